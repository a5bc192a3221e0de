import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for the gateway's process, applied when this module is loaded: main.ts imports it
 * before anything else, so that they hold before the application allocates anything.
 *
 * `--no-allocation-site-pretenuring`. V8 watches where object and array literals are made, and
 * once most objects from one place have outlived a young-generation collection, it makes that
 * place allocate straight into the old generation. Starting the application (Nest's modules,
 * GraphQL's schema) makes long-lived objects in code that node's HTTP handling shares, and under
 * load V8 could then decide to pretenure those places. Per-request objects allocated old die old
 * and, until the next full collection, keep alive every young object they point to: each
 * young-generation collection then promotes most of what the requests in flight hold, the old
 * generation fills (43-124 MiB against 31), and full collections follow one another. A process in
 * that state spent 20-70% more CPU per request for the rest of its life; one in a few started
 * that way (measured side by side with the bench floor, four to six processes at a time: with the
 * setting, none of twelve did). Nothing the gateway keeps is long-lived enough to gain from
 * pretenuring.
 */
setFlagsFromString('--no-allocation-site-pretenuring');
