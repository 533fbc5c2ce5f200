import 'server-only';
import type { SnippetPart } from '~/shared/search';

/**
 * Snippets travel as parts ({text, hit}) rather than HTML, so a message can never inject markup into
 * the results: the UI renders each part as text and highlights the hits.
 */
const SNIPPET_CHARS = 180;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A window of `content` around its first hit, with every occurrence of a term marked. */
export function snippetFromText(content: string, terms: string[], maxChars = SNIPPET_CHARS): SnippetPart[] {
  const flat = content.replace(/\s+/gu, ' ').trim();
  const usable = terms.filter((t) => t.length > 0).sort((a, b) => b.length - a.length);
  const re = usable.length > 0 ? new RegExp(usable.map(escapeRegExp).join('|'), 'giu') : null;
  const first = re ? flat.search(re) : -1;
  let start = 0;
  if (first > maxChars / 3 && flat.length > maxChars) {
    start = Math.min(first - Math.floor(maxChars / 3), flat.length - maxChars);
    // Start at a word boundary, and never inside a surrogate pair.
    const space = flat.indexOf(' ', start);
    if (space !== -1 && space < first) start = space + 1;
  }
  let end = Math.min(flat.length, start + maxChars);
  if (end < flat.length && /[\uDC00-\uDFFF]/u.test(flat.charAt(end))) end += 1;
  const window = flat.slice(start, end);
  const parts: SnippetPart[] = [];
  if (start > 0) parts.push({ text: '… ', hit: false });
  let last = 0;
  if (re) {
    for (const m of window.matchAll(re)) {
      if (m.index > last) parts.push({ text: window.slice(last, m.index), hit: false });
      parts.push({ text: m[0], hit: true });
      last = m.index + m[0].length;
    }
  }
  if (last < window.length) parts.push({ text: window.slice(last), hit: false });
  if (end < flat.length) parts.push({ text: ' …', hit: false });
  return merge(parts);
}

/** ts_headline output with the hits between `start` and `stop` marker characters. */
export function snippetFromMarked(marked: string, start: string, stop: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let rest = marked;
  while (rest.length > 0) {
    const a = rest.indexOf(start);
    if (a === -1) {
      parts.push({ text: rest, hit: false });
      break;
    }
    if (a > 0) parts.push({ text: rest.slice(0, a), hit: false });
    const b = rest.indexOf(stop, a + start.length);
    const hitEnd = b === -1 ? rest.length : b;
    parts.push({ text: rest.slice(a + start.length, hitEnd), hit: true });
    rest = b === -1 ? '' : rest.slice(b + stop.length);
  }
  return merge(parts);
}

function merge(parts: SnippetPart[]): SnippetPart[] {
  const out: SnippetPart[] = [];
  for (const p of parts) {
    if (p.text.length === 0) continue;
    const prev = out[out.length - 1];
    if (prev && prev.hit === p.hit) prev.text += p.text;
    else out.push({ ...p });
  }
  return out;
}
