/**
 * The static-file handler: one request through the pipeline, in one direction —
 *
 *   Request → lookup (files/lookup.ts) → Entry → decide (http/decide.ts) → Decision
 *           → render (http/respond.ts) → Reply, handed back to the connection to send.
 *
 * On a fresh cache entry everything is synchronous, and a plain GET of a small file is
 * answered with a response buffer precomputed once a second (the Date header changes). A
 * large file's body is opened here, after deciding and before rendering, and checked to be
 * the version the head describes (files/stream.ts owns the descriptor from then on); if the
 * file changed, the path is looked up once more, and a file that keeps changing gets a 503.
 */
import type { Config } from '../config/config';
import type { Logger } from '../logs/logger';
import { FileChangedError, isOutOfDescriptors, isTransient, statusForError } from '../errors';
import type { Representation } from '../files/cache';
import type { Entry, FileEntry, ListingEntry, RefusalEntry } from '../files/entry';
import { renderListing, parseListingQuery } from '../files/listing';
import { FileLookup, type LookupConfig } from '../files/lookup';
import { OpenFile } from '../files/stream';
import { corsPolicy, preflightLines, type CorsPolicy } from '../http/cors';
import { PathRules, type PathRulesConfig } from './path-rules';
import { decideFile, decideMethod, PLAIN_GET, type Decision } from '../http/decide';
import { prefersHtml, prefersJson } from '../http/negotiate';
import { makeBoundary, multipartByteranges } from '../http/range';
import {
  errorPage,
  errorReply,
  listingQueryErrorReply,
  listingReply,
  methodNotAllowedReply,
  multipartFromMemory,
  multipartReply,
  notFoundReply,
  notModifiedReply,
  okReply,
  optionsReply,
  partialReply,
  preparedHead,
  preparedWireReply,
  preconditionFailedReply,
  rangeNotSatisfiableReply,
  redirectReply,
  transientErrorReply,
} from '../http/respond';
import type { Reply, Request } from '../http/types';

/** Above this a cached body is written after its head rather than copied into one buffer. */
const WIRE_MAX_BODY = 64 * 1024;

export type StaticConfig = LookupConfig & PathRulesConfig & Pick<Config, 'maxRanges'>;

export class StaticHandler {
  private readonly files: FileLookup;
  private readonly maxRanges: number;
  private readonly cors: CorsPolicy | null;
  /** CORS with a list of origins: the answer to a request with an Origin depends on it. */
  private readonly echoesOrigin: boolean;
  /** Redirects and basic auth, answered before the lookup; null when none is configured. */
  private readonly pathRules: PathRules | null;
  private readonly serveFile = (req: Request) => this.serve(req);
  /** GET/HEAD answered from a fresh cache entry, and those that needed the disk (metrics). */
  cacheHits = 0;
  cacheMisses = 0;

  constructor(
    config: StaticConfig,
    log: Logger,
    /** Told when a file could not be opened for lack of descriptors (the worker then stops accepting a moment). */
    private readonly onOutOfDescriptors: () => void = () => {},
  ) {
    this.files = new FileLookup(config, log, (e) => preparedHead(e, e.rep));
    this.maxRanges = config.maxRanges;
    this.cors = corsPolicy(config);
    this.echoesOrigin = this.cors?.echoesOrigin ?? false;
    // Reads the htpasswd files: one that cannot be used (any more) is a ConfigError.
    this.pathRules = PathRules.create(config, log);
  }

  /** Entries and body bytes held in the file cache now. */
  get cacheSize(): { entries: number; bytes: number } {
    return this.files.cacheSize;
  }

  /**
   * The reply for one request: synchronously when the path is cached and fresh. With CORS on,
   * every reply gets the CORS fields it does not carry yet (a file's own lines hold those that
   * never depend on the request), whatever step answered. `remote`: the connection's client
   * address (basic auth limits failed sign-ins per client; a trusted proxy's X-Forwarded-For
   * names the client instead).
   */
  handle(req: Request, remote = ''): Reply | Promise<Reply> {
    const reply = this.route(req, req.forwarded?.for ?? remote);
    if (this.cors === null) return reply;
    return reply instanceof Promise ? reply.then((r) => this.withCors(req, r)) : this.withCors(req, reply);
  }

  private withCors(req: Request, reply: Reply): Reply {
    // Only the plain-GET fast path sets `wire`, and only when its lines are complete.
    if (reply.wire !== undefined) return reply;
    const headers = this.cors!.addTo(reply.headers, req.headers.origin);
    return headers === reply.headers ? reply : { ...reply, headers };
  }

  /** Redirects and basic auth first (when configured), then the file. */
  private route(req: Request, remote: string): Reply | Promise<Reply> {
    return this.pathRules === null ? this.serve(req) : this.pathRules.handle(req, remote, this.serveFile);
  }

  private serve(req: Request): Reply | Promise<Reply> {
    switch (decideMethod(req.method, req.path)) {
      case 'options':
        return optionsReply(this.files.ruleLinesOfPath(req.path) + (this.cors === null ? '' : preflightLines(req.headers)));
      case 'method-not-allowed':
        return methodNotAllowedReply();
      case 'asterisk-not-options':
        return errorReply(400);
      case 'read':
        break;
    }
    const entry = this.files.cached(req.path);
    if (this.files.isFresh(entry)) {
      this.cacheHits++;
      return this.answer(req, entry, false);
    }
    this.cacheMisses++;
    return this.files.lookup(req.path, entry).then(
      (e) => this.answer(req, e, false),
      (err) => this.replyToTransientOrRethrow(err),
    );
  }

  /** `retried`: this is the second answer, after the file changed under the first. */
  private answer(req: Request, entry: Entry, retried: boolean): Reply | Promise<Reply> {
    switch (entry.kind) {
      case 'file':
        return this.answerFile(req, entry, retried);
      case 'redirect':
        return redirectReply(entry.location + req.query);
      case 'listing':
        return this.answerListing(req, entry);
      case 'refuse':
        return entry.spaFallback && prefersHtml(req.headers.accept) ? this.answerSpa(req, entry, retried) : this.answerRefusal(req, entry);
    }
  }

  /**
   * A missing path asked for by a browser's navigation (Accept prefers HTML): the SPA's
   * index.html, or the path's own 404 when there is none. Both say `Vary: Accept`.
   */
  private answerSpa(req: Request, missing: RefusalEntry, retried: boolean): Reply | Promise<Reply> {
    const answer = (index: Entry) => (index.kind === 'file' ? this.answerFile(req, index, retried) : this.answerRefusal(req, missing));
    const index = this.files.spaIndex();
    if (!(index instanceof Promise)) return answer(index);
    return index.then(answer, (err) => this.replyToTransientOrRethrow(err));
  }

  private answerFile(req: Request, entry: FileEntry, retried: boolean): Reply | Promise<Reply> {
    const h = req.headers;
    const chosen = this.files.choose(entry, h['accept-encoding'], h['if-none-match'] !== undefined);
    if (chosen.copiesWanted) this.files.startCompression(entry);
    const { rep, expectedCopy } = chosen;
    const d = decideFile(req.method, h, rep, expectedCopy === null ? null : expectedCopy.etag, this.maxRanges);
    // With a list of CORS origins, a request with an Origin gets an echo the precomputed response lacks.
    if (d === PLAIN_GET && !(this.echoesOrigin && h.origin !== undefined)) return this.plainGet(entry, rep, rep.body!);
    return this.render(req, entry, rep, d, expectedCopy === null ? '' : expectedCopy.validatorLines, retried);
  }

  /** The fast path: the precomputed response, rebuilt when the second (the Date) changed. */
  private plainGet(entry: FileEntry, rep: Representation, body: Buffer): Reply {
    const p = preparedHead(entry, rep);
    if (body.length > WIRE_MAX_BODY) return okReply(p.okLines, body);
    return preparedWireReply(p, body, Date.now());
  }

  private render(req: Request, entry: FileEntry, rep: Representation, d: Decision, copyValidatorLines: string, retried: boolean): Reply | Promise<Reply> {
    const head = req.method === 'HEAD';
    switch (d.kind) {
      case 'not-modified':
        return notModifiedReply(entry, rep.validatorLines);
      case 'not-modified-as-copy':
        return notModifiedReply(entry, copyValidatorLines);
      case 'precondition-failed':
        return preconditionFailedReply();
      case 'range-not-satisfiable':
        return rangeNotSatisfiableReply(entry, rep);
      case 'partial': {
        const { start, end } = d;
        if (head) return partialReply(entry, rep, start, end, null);
        if (rep.body !== null) return partialReply(entry, rep, start, end, rep.body.subarray(start, end));
        return this.withOpenFile(req, rep, retried, (file) => partialReply(entry, rep, start, end, { kind: 'file', file, start, end }));
      }
      case 'multipart': {
        const mp = multipartByteranges(d.ranges, rep.size, entry.contentType, makeBoundary());
        if (head) return multipartReply(entry, rep, mp, null);
        if (rep.body !== null) return multipartReply(entry, rep, mp, multipartFromMemory(mp, rep.body));
        // Part ends from http/range.ts are inclusive; bodies are [start, end).
        const parts = mp.parts.map((p) => ({ head: p.head, start: p.start, end: p.end + 1 }));
        return this.withOpenFile(req, rep, retried, (file) => multipartReply(entry, rep, mp, { kind: 'multipart', file, parts, tail: mp.tail }));
      }
      case 'plain-get':
      case 'full': {
        const okLines = preparedHead(entry, rep).okLines;
        if (head) return okReply(okLines, null);
        if (rep.body !== null) return okReply(okLines, rep.body);
        return this.withOpenFile(req, rep, retried, (file) => okReply(okLines, { kind: 'file', file, start: 0, end: rep.size }));
      }
    }
  }

  /**
   * Opens a large file and checks it is still the one whose length and ETag the head carries.
   * If it changed or vanished since it was cached, the path is forgotten and the request
   * answered once more from a fresh lookup; a file that keeps changing gets a 503.
   */
  private withOpenFile(req: Request, rep: Representation, retried: boolean, reply: (file: OpenFile) => Reply): Promise<Reply> {
    return OpenFile.open(rep).then(reply, (err: unknown) => {
      if (isOutOfDescriptors(err)) return this.replyToTransientOrRethrow(err);
      if (retried) return err instanceof FileChangedError ? transientErrorReply() : errorReply(statusForError(err), false);
      this.files.forget(req.path);
      return this.files.lookup(req.path, undefined).then(
        (e) => this.answer(req, e, true),
        (e) => this.replyToTransientOrRethrow(e),
      );
    });
  }

  /**
   * A file that kept changing while it was read, or no descriptor to open it with, is a
   * transient 503 (with Retry-After), not cached; anything else is rethrown for the
   * connection's 500. Running out of descriptors is also told to the worker.
   */
  private replyToTransientOrRethrow(err: unknown): Reply {
    if (!isTransient(err)) throw err;
    if (isOutOfDescriptors(err)) this.onOutOfDescriptors();
    return transientErrorReply();
  }

  /** A 404 carries the site's 404.html when it has one; other refusals keep the connection, but a 400. */
  private answerRefusal(req: Request, entry: RefusalEntry): Reply | Promise<Reply> {
    if (entry.status !== 404) return errorReply(entry.status, entry.status === 400);
    const head = req.method === 'HEAD';
    const page = this.files.notFoundPage();
    if (page instanceof Promise) return page.then((body) => notFoundReply(body ?? errorPage(404), entry.ruleLines, head));
    return notFoundReply(page ?? errorPage(404), entry.ruleLines, head);
  }

  private async answerListing(req: Request, entry: ListingEntry): Promise<Reply> {
    const head = req.method === 'HEAD';
    const by = parseListingQuery(req.query);
    if ('error' in by) return listingQueryErrorReply(by.error, head);
    let items;
    try {
      items = await this.files.listItems(entry, by);
    } catch (err) {
      if (isOutOfDescriptors(err)) return this.replyToTransientOrRethrow(err);
      return errorReply(statusForError(err), false);
    }
    const json = prefersJson(req.headers.accept);
    return listingReply(json, renderListing(entry.urlPath, items, json ? 'json' : 'html', by), head);
  }
}
