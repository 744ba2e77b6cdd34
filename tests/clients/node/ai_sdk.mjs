// Drive the Vercel AI SDK (ai 6, @ai-sdk/openai 3) against the router with its defaults.
//
//   NEXUS_BASE_URL=http://127.0.0.1:8000/v1 NEXUS_MODEL=via-openai node ai_sdk.mjs SCENARIO
//
// Prints one JSON line: {"ok": true, ...what the scenario saw} or {"ok": false, "error": {...}}.
// `openai(model)` is the provider's default: the Responses API, with `store: true`.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

const openai = createOpenAI({
  baseURL: process.env.NEXUS_BASE_URL,
  apiKey: process.env.NEXUS_API_KEY ?? "unused",
});
const name = process.env.NEXUS_MODEL;

const weather = tool({
  description: "Weather for a city",
  inputSchema: jsonSchema({
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  }),
  execute: async ({ city }) => `sunny in ${city}`,
});

/** streamText, its errors read from fullStream rather than logged by the default onError. */
function stream(options) {
  return streamText({ ...options, onError: () => {} });
}

/** Read a streamText result to its end, throwing the error it ended with. */
async function drain(run) {
  let text = "";
  for await (const part of run.fullStream) {
    if (part.type === "text-delta") text += part.text;
    if (part.type === "error") throw part.error;
  }
  return { text, finishReason: await run.finishReason };
}

const scenarios = {
  /** One generateText call on the default (Responses) model. */
  async generate() {
    const result = await generateText({ model: openai(name), prompt: "hi" });
    return { text: result.text, finishReason: result.finishReason };
  },

  /** One generateText call on the Chat Completions model. */
  async chat() {
    const result = await generateText({ model: openai.chat(name), prompt: "hi" });
    return { text: result.text, finishReason: result.finishReason };
  },

  /** One streamText call on the default model. */
  async stream() {
    return drain(stream({ model: openai(name), prompt: "hi" }));
  },

  /** Two turns, the second sending the first's response.messages back, as a chat app does. */
  async multiturn() {
    const messages = [{ role: "user", content: "my name is Ada" }];
    const first = await generateText({ model: openai(name), messages });
    messages.push(...first.response.messages, { role: "user", content: "what is my name?" });
    const second = await generateText({ model: openai(name), messages });
    return { texts: [first.text, second.text], sent: second.request.body };
  },

  /** The same with streamText, as useChat-style apps do. */
  async multiturnStream() {
    const messages = [{ role: "user", content: "my name is Ada" }];
    const first = stream({ model: openai(name), messages });
    const one = await drain(first);
    messages.push(...(await first.response).messages, {
      role: "user",
      content: "what is my name?",
    });
    const two = await drain(stream({ model: openai(name), messages }));
    return { texts: [one.text, two.text] };
  },

  /** A tool the SDK executes itself, then the model's answer (multi-step). */
  async tools() {
    const result = await generateText({
      model: openai(name),
      prompt: "weather in Oslo?",
      tools: { weather },
      stopWhen: stepCountIs(3),
    });
    return {
      text: result.text,
      steps: result.steps.length,
      toolCalls: result.steps.flatMap((s) => s.toolCalls.map((c) => [c.toolName, c.input])),
      toolResults: result.steps.flatMap((s) => s.toolResults.map((r) => r.output)),
    };
  },

  /** Seconds until a request nothing may serve raises, with the default maxRetries. */
  async refused() {
    const start = performance.now();
    try {
      await generateText({ model: openai(name), prompt: "hi" });
    } catch (error) {
      return { seconds: (performance.now() - start) / 1000, error: describe(error) };
    }
    throw new Error("a request nothing may serve succeeded");
  },
};

function describe(error) {
  const last = error?.lastError ?? error;
  return {
    name: error?.name,
    message: String(error?.message ?? error),
    statusCode: last?.statusCode,
    responseBody: last?.responseBody,
    requestBody: last?.requestBodyValues,
  };
}

const scenario = scenarios[process.argv[2]];
if (scenario === undefined) {
  console.error(`usage: node ai_sdk.mjs ${Object.keys(scenarios).join("|")}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify({ ok: true, ...(await scenario()) }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: describe(error) }));
  process.exitCode = 1;
}
