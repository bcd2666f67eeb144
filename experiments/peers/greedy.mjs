// greedy.mjs - the same greedy check through node-llama-cpp's own JavaScript
// API (its bundled llama-addon.node and prebuilt llama.cpp), so that
// `make bench-peers` also shows the package itself loads the converted GGUF
// and continues the prompts as specrej does.
//
//   node experiments/peers/greedy.mjs MODEL.gguf IDS N
//     IDS: comma-separated prompt token ids (BOS included); prints up to N
//     greedily generated ids on one line, stopping at the end-of-text token.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, idList, nArg] = process.argv.slice(2);
if (!modelPath || !idList) {
    console.error("usage: node greedy.mjs MODEL.gguf IDS [N]");
    process.exit(2);
}
const ids = idList.split(",").map(Number);
const n = Number(nArg ?? 64);
const llama = await getLlama({
    gpu: false, build: "never", skipDownload: true, progressLogs: false,
    logLevel: LlamaLogLevel.error
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
    contextSize: 512, sequences: 1, threads: 1, flashAttention: false
});
const sequence = context.getSequence();
const eos = model.tokens.eos;
const out = [];
if (n > 0) {
    for await (const t of sequence.evaluate(ids, {temperature: 0})) {
        if (t === eos) break;
        out.push(t);
        if (out.length >= n) break;
    }
}
console.log(out.join(" "));
console.error(`greedy.mjs: node-llama-cpp build ${llama.buildType}, llama.cpp ${llama.llamaCppRelease.release}, ` +
    `CPU backend ${llama.gpu === false ? "CPU only" : llama.gpu}`);
await context.dispose();
await model.dispose();
await llama.dispose();
