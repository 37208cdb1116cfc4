// Greedy-decodes N tokens from BOS with llama.cpp (through node-llama-cpp's prebuilt CPU binaries) and prints the
// text, so PeftSharp's GGUF export can be checked against `peftsharp generate`.
// usage: node greedy.mjs <model.gguf> [tokens=40] [lora-adapter.gguf]
import { getLlama } from "node-llama-cpp";

const [modelPath, count = "40", loraPath] = process.argv.slice(2);
if (!modelPath) {
    console.error("usage: node greedy.mjs <model.gguf> [tokens=40] [lora-adapter.gguf]");
    process.exit(2);
}
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({
    contextSize: 512,
    ...(loraPath ? { lora: { adapters: [{ filePath: loraPath, scale: 1 }] } } : {}),
});
const sequence = context.getSequence();
const tokens = [];
for await (const token of sequence.evaluate([model.tokens.bos], { temperature: 0 })) {
    if (token === model.tokens.eos) break;
    tokens.push(token);
    if (tokens.length >= Number(count)) break;
}
process.stdout.write(JSON.stringify({ ids: tokens, text: model.detokenize(tokens) }) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
