// Runs the SentencePiece-style fixtures (tools/sp_bpe_fixture.py) through an
// independent implementation, npm @huggingface/tokenizers (the JS port of
// Hugging Face tokenizers), and writes tests/fixtures/tok_sp_bpe/reference.json:
// for each file and text, the ids and decode(ids).
//
//   (cd "$(mktemp -d)" && npm install @huggingface/tokenizers@0.2.0) and then
//   TOKENIZERS_JS=<that dir>/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs \
//     node tools/sp_bpe_reference.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const lib = process.env.TOKENIZERS_JS;
const { Tokenizer } = await import(lib ? pathToFileURL(lib).href : "@huggingface/tokenizers");
const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "tests", "fixtures", "tok_sp_bpe");

const TEXTS = [
  "It is a truth universally acknowledged",
  "a single man in possession of a good fortune",
  " leading space",
  "two  spaces and trailing ",
  "The caf\u00e9 was na\u00efve.",
  "unknown: \u00fc \u20ac \u{1F600} and\nnewline\ttab",
  "<s>with a start token</s> and after",
  "mid<s>word",
  "Q",
  "xyz QXZ",
];

const out = {};
for (const name of ["legacy.json", "metaspace.json", "split.json"]) {
  const tok = new Tokenizer(JSON.parse(readFileSync(join(dir, name), "utf8")), {});
  out[name] = TEXTS.map((text) => {
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    return { text, ids, decoded: tok.decode(ids) };
  });
}
writeFileSync(join(dir, "reference.json"), JSON.stringify(out, null, 1) + "\n");
console.log("wrote", join(dir, "reference.json"));
