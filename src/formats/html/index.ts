/**
 * The html readers the engine opens layers with (see `../unpack.ts`).
 *
 * ClamAV's HTML scan (`cli_scanhtml`) is not a container of child files: its normalised outputs
 * are passes over normalised copies of the layer (`htmlNormalise`, wired by the engine), and only
 * the style images and `data:` URIs are scanned as files of their own. No reader is registered.
 */
import type { UnpackerFamily } from '../unpack.js';
import { normaliseHtml, type HtmlOutputs } from './htmlnorm.js';

export const family: UnpackerFamily = { containers: {} };

/** ClamAV's HTML limits (`MaxHTMLNormalize`, `MaxHTMLNoTags`; defaults 40 MiB and 8 MiB). */
export interface HtmlLimits {
  maxHtmlNormalize: number;
  maxHtmlNoTags: number;
}

export const DEFAULT_HTML_LIMITS: Readonly<HtmlLimits> = Object.freeze({ maxHtmlNormalize: 40 * 1024 * 1024, maxHtmlNoTags: 8 * 1024 * 1024 });

/**
 * The HTML normaliser's outputs for one HTML layer, as `cli_scanhtml` scans them, in its order:
 * `styleImages` (each a file of its own, scanned while normalising), `nocomment` (as HTML),
 * `notags` (as HTML; absent when the layer is larger than MaxHTMLNoTags), `javascript` (as HTML,
 * then again as text), then each `rfc2397` file (a file of its own). Nothing when the layer is
 * larger than MaxHTMLNormalize.
 */
export function htmlNormalise(bytes: Uint8Array, limits: Partial<HtmlLimits> = {}): HtmlOutputs {
  const l = { ...DEFAULT_HTML_LIMITS, ...limits };
  if (bytes.length > l.maxHtmlNormalize) return { rfc2397: [], styleImages: [] };
  const out = normaliseHtml(bytes);
  if (bytes.length > l.maxHtmlNoTags) delete out.notags;
  return out;
}

/**
 * A CL_TYPE_HTML_UTF16 layer's bytes as ClamAV hands them to its HTML scan (`cli_scanhtml_utf16`):
 * each byte pair (lo, hi) becomes the byte (hi << 4) + lo, read in 64 KiB blocks (an odd last
 * byte is dropped). The result is scanned as an HTML layer of its own (`htmlNormalise`).
 */
export function htmlUtf16Squeeze(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length >> 1);
  let j = 0;
  for (let at = 0; at < bytes.length; at += 65536) {
    const end = Math.min(bytes.length, at + 65536);
    if (end - at < 2) break;
    for (let i = at; i + 1 < end; i += 2) out[j++] = ((bytes[i + 1]! << 4) + bytes[i]!) & 0xff;
  }
  return out.subarray(0, j);
}

export type { HtmlOutputs } from './htmlnorm.js';
