/**
 * Small DOM helpers shared by the libvirt XML parsers and editors (@xmldom/xmldom). Parsing never
 * prints: xmldom's diagnostics are collected and a malformed document is a value, not a console line.
 */
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { type Result, ok, err } from '../../model/errors.js';

export type { Document, Element, Node };

const ELEMENT_NODE = 1;

export function parseXmlDocument(xml: string, what: string): Result<Document> {
  const problems: string[] = [];
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problems.push(message.split('\n')[0] ?? message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    return err({ message: `${what} is not well-formed XML: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}` });
  }
  if (problems.length) return err({ message: `${what} is not well-formed XML: ${problems[0]}` });
  if (!doc.documentElement) return err({ message: `${what} has no root element` });
  return ok(doc);
}

/** Element children of `el`, optionally only those named `name`. */
export function childElements(el: Element | null | undefined, name?: string): Element[] {
  const out: Element[] = [];
  if (!el) return out;
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (name === undefined || (n as Element).nodeName === name)) out.push(n as Element);
  }
  return out;
}

export function firstChild(el: Element | null | undefined, name: string): Element | null {
  return childElements(el, name)[0] ?? null;
}

/** Follow a path of element names from `el` (first match at each step). */
export function descend(el: Element | null | undefined, ...names: string[]): Element | null {
  let cur: Element | null = el ?? null;
  for (const n of names) {
    cur = firstChild(cur, n);
    if (!cur) return null;
  }
  return cur;
}

export function attr(el: Element | null | undefined, name: string): string | null {
  if (!el || !el.hasAttribute(name)) return null;
  return el.getAttribute(name);
}

export function text(el: Element | null | undefined): string | null {
  if (!el) return null;
  return (el.textContent ?? '').trim();
}

/**
 * A number as libvirt parses address attributes: C strtoul with base 0, and the whole string must be
 * consumed. "0x1f" is hex, "010" is octal (8), "25" is decimal; "08" is rejected. null when invalid.
 */
export function parseLibvirtNumber(input: string | null): number | null {
  if (input === null) return null;
  const s = input.trim();
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) n = s.length === 1 ? 0 : parseInt(s.slice(1), 8);
  else if (/^[1-9][0-9]*$/.test(s)) n = parseInt(s, 10);
  else return null;
  return Number.isSafeInteger(n) ? n : null;
}
