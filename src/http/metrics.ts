/**
 * The HTTP API's counters in Prometheus' text exposition format (version 0.0.4): scans by verdict,
 * detections, bytes scanned, a scan-latency histogram, errors by kind, requests by route and status.
 */
import type { Verdict } from '../daemon/service.js';

/** Upper bounds of the latency histogram's buckets, in seconds. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  private readonly scans = new Map<Verdict, number>([['clean', 0], ['infected', 0], ['not-scanned', 0]]);
  private detections = 0;
  private bytes = 0;
  private readonly buckets = LATENCY_BUCKETS.map(() => 0);
  private latencyCount = 0;
  private latencySum = 0;
  private readonly errors = new Map<string, number>();
  private readonly requests = new Map<string, number>();

  /** One scanned object (a raw body or one multipart part). */
  scan(verdict: Verdict, detections: number, bytes: number, seconds: number): void {
    this.scans.set(verdict, (this.scans.get(verdict) ?? 0) + 1);
    this.detections += detections;
    this.bytes += bytes;
    this.latencyCount++;
    this.latencySum += seconds;
    LATENCY_BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    });
  }

  /** An error by kind: `engine`, `bad_request`, `too_large`, `unauthorized`, `internal`. */
  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  request(route: string, status: number): void {
    const k = `${route}\0${status}`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    out.push('# HELP vigil_scans_total Objects scanned, by verdict.', '# TYPE vigil_scans_total counter');
    for (const [v, n] of this.scans) out.push(`vigil_scans_total{verdict="${v}"} ${n}`);
    out.push('# HELP vigil_detections_total Detections reported.', '# TYPE vigil_detections_total counter', `vigil_detections_total ${this.detections}`);
    out.push('# HELP vigil_scanned_bytes_total Bytes of the objects scanned.', '# TYPE vigil_scanned_bytes_total counter', `vigil_scanned_bytes_total ${this.bytes}`);
    out.push('# HELP vigil_scan_duration_seconds Time to scan one object.', '# TYPE vigil_scan_duration_seconds histogram');
    LATENCY_BUCKETS.forEach((le, i) => out.push(`vigil_scan_duration_seconds_bucket{le="${le}"} ${this.buckets[i] ?? 0}`));
    out.push(`vigil_scan_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    out.push(`vigil_scan_duration_seconds_sum ${this.latencySum}`, `vigil_scan_duration_seconds_count ${this.latencyCount}`);
    out.push('# HELP vigil_errors_total Errors, by kind.', '# TYPE vigil_errors_total counter');
    for (const kind of ['engine', 'bad_request', 'too_large', 'unauthorized', 'internal']) if (!this.errors.has(kind)) this.errors.set(kind, 0);
    for (const [k, n] of [...this.errors].sort()) out.push(`vigil_errors_total{kind="${escapeLabel(k)}"} ${n}`);
    out.push('# HELP vigil_http_requests_total HTTP requests, by route and status.', '# TYPE vigil_http_requests_total counter');
    for (const [k, n] of [...this.requests].sort()) {
      const [route, status] = k.split('\0');
      out.push(`vigil_http_requests_total{route="${escapeLabel(route ?? '')}",status="${status ?? ''}"} ${n}`);
    }
    return `${out.join('\n')}\n`;
  }
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
