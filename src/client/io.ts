/** Everything fleetserve-client touches outside of memory, passed in so tests can run it in-process with fakes. */
import * as net from 'node:net';

export interface ClientIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal (binary bodies are then held back). */
  stdoutIsTTY: boolean;
  /** Whether stderr may show a progress bar (a terminal, or forced by the caller). */
  progressAllowed: boolean;
  /** Width for the progress bar. */
  columns: number;
  userAgent: string;
  connect(host: string, port: number): net.Socket;
  now(): number;
}

export const defaultConnect = (host: string, port: number): net.Socket => net.connect({ host, port });
