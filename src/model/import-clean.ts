/**
 * The wrapping people add around a pasted listing, removed before a line is read: forum markup (BBCode
 * `[b]`/`[code]`/`[quote]`..., Markdown `**`/backticks/fences, `>` quotes, HTML `<br>`), and shell
 * prompts (`# `, `$ `, `user@host:~$ `, `[root@host ~]# `, `virsh # `). Pure string work; no line is
 * dropped here: the importer decides whether what is left is understood or reported.
 */

/** BBCode tags forums wrap pastes in. Only these names: lspci text has its own brackets ([AMD/ATI], [0300]). */
const BBCODE = /\[\/?(?:b|i|u|s|code|icode|quote|color|size|font|spoiler|pre|noparse|plain|center|left|right|highlight|tt|mono)(?:=[^\]\r\n]{0,40})?\]/gi;
const HTML_TAGS = /<\/?(?:b|strong|i|em|code|pre|tt|span|font|p|div)(?:\s[^<>]{0,80})?>/gi;
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&nbsp;': ' ' };
const PROMPTS: RegExp[] = [
  /^\[[\w.-]+@[\w.-]+[^\]\r\n]{0,80}\][#$%]\s?/, // [root@host ~]#
  /^[\w.-]+@[\w.-]+:[^\s#$%]{0,120}[#$%]\s?/, //    user@host:~$
  /^[\w.-]+@[\w.-]+\s*[#$%]\s?/, //                 root@pve #
  /^virsh\s*#\s?/, //                               virsh #
  /^(?:sudo\s+)?[#$%]\s/, //                        # and $
];
/** Commands people paste with their output: the line is a command, not data. */
const COMMAND = /^(?:sudo\s+|doas\s+)?(?:lspci|for|do|done|find|virsh|ls|cat|echo|printf|shopt|dmesg|journalctl|grep|egrep|sh|bash|zsh|while|then|fi|if|n=|d=|\.\/|lsiommu|iommu|readlink|nodedev-[\w-]+|dumpxml|edit|start|list|\.{0,2}\/\S+|xargs|sort|awk|sed|head|tail|less|more|sudo|su|exit|clear)(?:\s|$|;)/;

/** Without a prompt only unmistakable commands count (a sentence starting with "for" is not one). */
const BARE_COMMAND = /^(?:(?:sudo|doas)\s+)?(?:lspci|virsh|find|dmesg|journalctl|shopt|readlink)(?:\s|$)|^for\s+\w+\s+in\s.*(?:;|do)|^(?:do|done);?$/;

export interface CleanLine {
  /** the text to read: markup and prompt removed, trailing blanks trimmed, indentation kept */
  text: string;
  /** a shell prompt was removed */
  prompt: boolean;
  /** the line is a shell command (after a prompt, or a bare `lspci ...`/`for d in ...` line) */
  command: boolean;
  /** the line held only markup (a fence, [code], a lone `>`) or nothing */
  empty: boolean;
}

/** Split a paste into lines the way people's editors do: \n, \r\n, lone \r, and HTML <br>. */
export function splitPasteLines(text: string): { lineNo: number; raw: string }[] {
  const out: { lineNo: number; raw: string }[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  lines.forEach((l, i) => {
    const parts = l.split(/<br\s*\/?>/i);
    for (const p of parts) out.push({ lineNo: i + 1, raw: p });
  });
  if (out.length && out[out.length - 1]!.raw === '' && lines.length > 1) out.pop();
  return out;
}

export function cleanLine(raw: string): CleanLine {
  // terminal colour codes (grep --color=always, lspci in a coloured terminal)
  // eslint-disable-next-line no-control-regex
  let t = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\u00a0/g, ' ').replace(/[\u200b\ufeff]/g, '').replace(/\s+$/, '');
  // quote prefixes: "> ", ">> ", "&gt; "
  t = t.replace(/^\s*(?:(?:>|&gt;)\s?)+/, '');
  if (/^\s*(?:```|~~~)[\w+-]*\s*$/.test(t) || /^\s*--\s*$/.test(t)) return { text: '', prompt: false, command: false, empty: true };
  t = t.replace(BBCODE, '').replace(HTML_TAGS, '').replace(/\*\*/g, '').replace(/`/g, '');
  t = t.replace(/&(?:amp|lt|gt|quot|#39|nbsp);/g, (e) => ENTITIES[e] ?? e);
  t = t.replace(/\s+$/, '');
  if (!t.trim()) return { text: '', prompt: false, command: false, empty: true };
  let prompt = false;
  const lead = /^\s*/.exec(t)![0];
  const body = t.slice(lead.length);
  for (const p of PROMPTS) {
    const m = p.exec(body);
    if (m) {
      prompt = true;
      t = body.slice(m[0].length);
      break;
    }
  }
  if (prompt && !t.trim()) return { text: '', prompt, command: true, empty: true };
  const first = t.trim();
  const command = prompt ? COMMAND.test(first) : BARE_COMMAND.test(first);
  return { text: t, prompt, command, empty: false };
}

/** A line as a report shows it: control and bidi characters escaped, at most 160 characters. */
export function escapeLineText(raw: string): string {
  let out = '';
  for (const ch of raw) {
    const c = ch.codePointAt(0)!;
    if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0x200e || c === 0x200f) out += `\\u{${c.toString(16)}}`;
    else out += ch;
    if (out.length >= 160) return out.slice(0, 160) + '...';
  }
  return out;
}
