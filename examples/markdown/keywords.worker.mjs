/**
 * Keyword extraction, run in worker threads by the markdown-report workflow (workers load plain
 * JavaScript, hence .mjs). Its input is prose already parsed out of the Markdown (parse.ts: no code,
 * HTML, entities, link URLs or licence text). Scores each word by its frequency in the document, dampened for words
 * that are common in any English technical text (a built-in stop list), and favours words that also
 * appear in headings. Pure CPU work: no I/O, no shared state.
 *
 * Input: { text: string, headings: string[] }. Output: { keywords: { term, score }[], words: number }.
 */
const STOP = new Set(
  `a about above after again all also am an and any are as at be because been before being below between both but by can
  could did do does doing done down during each else etc even every few for from further get gets got had has have having he
  her here hers him his how however i if in into is it its itself just let like made make makes many may me might more most
  much must my no nor not now of off often on once one only or other our out over own per please same see set she should
  since so some such than that the their them then there these they this those through to too two under until up upon us
  use used uses using very via was way we well were what when where which while who whom why will with within without would
  yes yet you your new first last next true false null undefined default example examples note see also version versions
  file files code value values type types function functions return returns object objects string strings number
  option options npm install run http https www com github org io html md readme license mit copyright changelog
  fixed fix fixes added add adds changed change changes update updated updates support supported release released
  bump bumps dependency dependencies thanks pr issue issues commit commits merge merged sponsors sponsor
  including include includes provided following without shall
  const var let import export require module modules await async`.split(/\s+/),
);

const WORD = /[a-z][a-z0-9+#.-]*[a-z0-9+#]|[a-z]{2,}/g;

/** Addresses written out in prose (a URL, an e-mail address) are not words. */
function withoutAddresses(text) {
  return text.replace(/https?:\/\/\S+/g, ' ').replace(/\S+@\S+\.\S+/g, ' ');
}

export default function extract({ text, headings }) {
  const counts = new Map();
  let words = 0;
  for (const match of withoutAddresses(text).toLowerCase().matchAll(WORD)) {
    const word = match[0];
    words++;
    if (word.length < 3 || word.length > 30 || STOP.has(word) || /^\d/.test(word) || word.includes('..')) continue;
    if (/\.(com|org|io|net|dev|md|json)$/.test(word)) continue;
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const headingWords = new Set();
  for (const heading of headings) for (const match of heading.toLowerCase().matchAll(WORD)) headingWords.add(match[0]);
  const scored = [];
  for (const [term, count] of counts) {
    // Sub-linear in the count (a word said 40 times is not 40 times as telling), plus a heading bonus.
    const score = (1 + Math.log(count)) * (headingWords.has(term) ? 1.5 : 1) * Math.min(1, term.length / 5);
    scored.push({ term, score: Math.round(score * 100) / 100 });
  }
  scored.sort((a, b) => b.score - a.score || a.term.localeCompare(b.term));
  return { keywords: scored.slice(0, 8), words };
}
