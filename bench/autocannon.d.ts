// autocannon ships no type declarations and @types/autocannon is not installed; this covers only
// the programmatic API that bench/load.ts uses (README "autocannon(opts[, cb])" and "Results").
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Requests to make in all; `duration` is then ignored. */
      amount?: number;
      pipelining?: number;
      /** Seconds before a request counts as a timeout (and an error). */
      timeout?: number;
      method?: string;
      headers?: Record<string, string>;
      /** Responses whose body differs are counted in `mismatches`. */
      expectBody?: string;
      title?: string;
      /** Requests sent in turn on each connection; `setupRequest` may change each one before it goes. */
      requests?: RequestSpec[];
      /** Called once for each connection's client as it is made, in order (README "setupClient"). */
      setupClient?: (client: Client) => void;
    }
    /**
     * One entry of `requests`: its headers are added to the options' `headers`. Built into a buffer once
     * unless it has a `setupRequest`, which rebuilds it before every send.
     */
    interface RequestSpec {
      headers?: Record<string, string>;
      setupRequest?: (req: Request) => Request;
      onResponse?: (status: number, body: string) => void;
    }
    /** The client of one connection, as `setupClient` receives it. */
    interface Client {
      /** Replaces the requests this connection sends in turn. */
      setRequests(requests: RequestSpec[]): void;
    }
    /** What `setupRequest` receives and returns (README "requests"). */
    interface Request {
      method?: string;
      path?: string;
      headers: Record<string, string>;
      body?: string;
    }
    /** hdr-histogram-percentiles-obj. Latency in milliseconds, requests and throughput per second. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p2_5: number;
      p50: number;
      p75: number;
      p90: number;
      p97_5: number;
      p99: number;
      p99_9: number;
    }
    interface Result {
      title?: string;
      url: string;
      requests: Histogram & { sent: number };
      latency: Histogram & { totalCount: number };
      throughput: Histogram;
      /** Seconds. */
      duration: number;
      errors: number;
      timeouts: number;
      mismatches: number;
      non2xx: number;
      '2xx': number;
      statusCodeStats: Record<string, { count: number }>;
    }
    interface Instance extends Promise<Result> {
      stop(): void;
    }
  }
  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
