/**
 * The Prometheus endpoint: its own small node:http listener on metricsHost:metricsPort
 * (never the public port), answering GET/HEAD /metrics in the text exposition format.
 *
 * In a cluster the primary renders it: it asks every worker for a snapshot over the cluster
 * IPC channel and sums them with prom-client's AggregatorRegistry.aggregate(), together with
 * its own counters (restarts, drains, reloads) and process metrics. The request/answer is our
 * own rather than AggregatorRegistry#clusterMetrics(), which fails the whole scrape when a
 * worker exits between the question and its answer (5 s, then an error) — a routine event
 * during a reload or a restart — and asks workers that are still starting. Here only workers
 * that announced themselves ready are asked, one that exits is simply left out, and one that
 * does not answer within SCRAPE_TIMEOUT_MS is left out with a warning.
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { describeListenError } from '../errors';
import type { Logger } from '../logs/logger';
import { countOf } from '../plural';
import type { PrimaryCounters } from './counters';
import { counter, processMetricsJson, processRegistry, type MetricsJson, type MetricsReply, type MetricsRequest } from './serving-metrics';

const SCRAPE_TIMEOUT_MS = 3000;

/** fleetserve_acme_renewals_total, read from the counts of the process that owns ACME (the primary, or the single process). */
export function acmeRenewalsCounter(registers: Registry[], renewals: PrimaryCounters['acmeRenewals']): void {
  new Counter({
    name: 'fleetserve_acme_renewals_total',
    help: 'ACME orders that ended (the first certificate and each renewal), by result (success, failure).',
    labelNames: ['result'],
    registers,
    collect() {
      this.reset();
      for (const [result, n] of Object.entries(renewals)) this.inc({ result }, n);
    },
  });
}

/** A registry of fleetserve_acme_renewals_total alone: the single process's, beside its serving metrics. */
export function acmeRenewalsRegistry(renewals: PrimaryCounters['acmeRenewals']): Registry {
  const own = new Registry();
  acmeRenewalsCounter([own], renewals);
  return own;
}

/** Renders the whole exposition text. */
export type RenderMetrics = () => Promise<string>;

/** Sums snapshots (arrays of registries' JSON) into the exposition text. */
export function renderAggregate(snapshots: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate(snapshots).metrics();
}

interface Scrape {
  waiting: Set<Worker>;
  snapshots: MetricsJson[];
  /** Ids of the workers whose snapshots these are. */
  answered: Set<number>;
  finish(): void;
}

/** Final counts of workers that have exited, kept so the totals never go down. */
interface Retired {
  ids: Set<number>;
  metrics: MetricsJson[];
}

/** Past this many retired entries they are summed into one. */
const RETIRED_FOLD_AT = 32;

/** The primary's side: its own metrics, and the scrape of every worker. */
export class PrimaryMetrics {
  private readonly own = new Registry();
  private readonly process = processRegistry('primary');
  private readonly scrapes = new Map<number, Scrape>();
  /** Workers that have said they answer scrapes. */
  private readonly ready = new Set<Worker>();
  private nextId = 0;
  private retired: Retired[] = [];
  private folding = false;

  /**
   * `aliveWorkers` counts the worker processes alive now (the pool's); `workerEvents` is
   * node:cluster (its 'message', 'exit' and 'disconnect'), but for tests.
   */
  constructor(
    counters: PrimaryCounters,
    private readonly log: Logger,
    aliveWorkers: () => number,
    workerEvents: Pick<NodeJS.EventEmitter, 'on'> = cluster,
  ) {
    const registers = [this.own];
    counter(registers, 'fleetserve_worker_restarts_total', 'Workers that died unexpectedly and were replaced.', () => counters.workerRestarts);
    counter(registers, 'fleetserve_worker_drains_total', 'Drains the primary asked of workers (SIGINT/SIGTERM, and each worker a reload retires).', () => counters.workerDrains);
    counter(registers, 'fleetserve_reloads_total', 'Configuration reloads (SIGHUP) that began replacing workers.', () => counters.reloads);
    acmeRenewalsCounter(registers, counters.acmeRenewals);
    new Gauge({
      name: 'fleetserve_workers',
      help: 'Worker processes alive now.',
      registers,
      collect() {
        this.set(aliveWorkers());
      },
    });
    workerEvents.on('message', (w: Worker, m: MetricsReply) => {
      if (m?.type === 'metrics-ready') this.ready.add(w);
      // Arrives before the worker's exit: from now on its counts come from here.
      if (m?.type === 'metrics-final') this.retired.push({ ids: new Set([w.id]), metrics: [m.metrics] });
      if (m?.type !== 'metrics') return;
      const scrape = this.scrapes.get(m.id);
      if (scrape === undefined || !scrape.waiting.delete(w)) return;
      scrape.snapshots.push(...m.metrics);
      scrape.answered.add(w.id);
      if (scrape.waiting.size === 0) scrape.finish();
    });
    // A killed worker may show its exit before its channel is seen closed, or the other way
    // round: either means no answer is coming.
    const gone = (w: Worker) => {
      this.ready.delete(w);
      for (const scrape of this.scrapes.values()) {
        if (scrape.waiting.delete(w) && scrape.waiting.size === 0) scrape.finish();
      }
    };
    workerEvents.on('exit', gone);
    workerEvents.on('disconnect', gone);
  }

  /**
   * Live workers' snapshots plus the final counts of exited ones, so a counter summed over
   * the cluster never goes down when a worker is retired by a drain or a reload (Prometheus
   * would take that for a reset). A worker whose final counts arrived after it answered this
   * scrape is counted once, from its answer. A worker that crashes takes its counts with it.
   */
  readonly render: RenderMetrics = async () => {
    await this.foldRetired();
    const scrape = await this.gather();
    const retired = this.retired.filter((r) => ![...r.ids].some((id) => scrape.answered.has(id))).flatMap((r) => r.metrics);
    return renderAggregate([...scrape.snapshots, ...retired, await this.own.getMetricsAsJSON(), await processMetricsJson(this.process)]);
  };

  /** Keeps the retired list short: many exited workers become one summed entry. */
  private async foldRetired(): Promise<void> {
    if (this.folding || this.retired.length <= RETIRED_FOLD_AT) return;
    this.folding = true;
    try {
      const n = this.retired.length;
      const old = this.retired.slice(0, n);
      const summed = (await AggregatorRegistry.aggregate(old.flatMap((r) => r.metrics)).getMetricsAsJSON()) as MetricsJson;
      const ids = new Set(old.flatMap((r) => [...r.ids]));
      this.retired = [{ ids, metrics: [summed] }, ...this.retired.slice(n)];
    } finally {
      this.folding = false;
    }
  }

  /** Every live worker's snapshot: those that exit meanwhile or do not answer in time are left out. */
  private gather(): Promise<Scrape> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const scrape: Scrape = {
        waiting: new Set(),
        snapshots: [],
        answered: new Set(),
        finish: () => {
          clearTimeout(timer);
          this.scrapes.delete(id);
          resolve(scrape);
        },
      };
      const timer = setTimeout(() => {
        this.log.warn({ workers: [...scrape.waiting].map((w) => w.id) }, `metrics: ${countOf(scrape.waiting.size, 'worker')} did not answer within ${SCRAPE_TIMEOUT_MS} ms; left out of this scrape`);
        scrape.finish();
      }, SCRAPE_TIMEOUT_MS);
      this.scrapes.set(id, scrape);
      for (const w of this.ready) {
        if (w.isDead() || !w.isConnected()) continue;
        try {
          w.send({ cmd: 'metrics', id } satisfies MetricsRequest);
          scrape.waiting.add(w);
        } catch {
          // Its channel just closed: it is exiting.
        }
      }
      if (scrape.waiting.size === 0) scrape.finish();
    });
  }
}

/**
 * Listens on host:port and answers GET/HEAD /metrics with `render()`; 404 for other paths,
 * 405 for other methods. `onError` gets the one-line reason when the port cannot be bound.
 */
export function startMetricsServer(
  host: string,
  port: number,
  render: RenderMetrics,
  log: Logger,
  onListening: (url: string) => void,
  onError: (message: string) => void,
): http.Server {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    render().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': AggregatorRegistry.PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error({ err }, 'metrics: rendering failed');
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics could not be rendered\n');
      },
    );
  });
  let listening = false;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (listening) log.error({ err }, `metrics listener: ${err.code ?? err.message}`);
    else onError(`metrics listener: ${describeListenError(err, host, port)}`);
  });
  server.listen({ host, port }, () => {
    listening = true;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
    log.info({ url, host, port }, `metrics on ${url}`);
    onListening(url);
  });
  // A scraper's idle keep-alive connection must never hold the process open at exit.
  server.unref();
  return server;
}
