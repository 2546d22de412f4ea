// Drives a real `tokenfab serve` with the official OpenAI Node client:
// chat and completions, streaming and not, shapes, usage, errors, and a
// graceful SIGTERM. Usage: node openai_client_test.mjs TOKENFAB_BIN MODEL.gguf
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';

const [tokenfab, model] = process.argv.slice(2);
if (!tokenfab || !model) {
  console.error('usage: node openai_client_test.mjs TOKENFAB_BIN MODEL.gguf');
  process.exit(2);
}
const apiKey = 'test-key-123';

function startServer() {
  const child = spawn(tokenfab, ['-t', '2', 'serve', '-m', model, '--port', '0', '--ctx-size', '512',
    '--max-num-seqs', '8', '--api-key', apiKey, '--served-model-name', 'tiny', '--shutdown-timeout', '60'],
  { stdio: ['ignore', 'inherit', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 60000);
    child.stderr.on('data', (d) => {
      log += d.toString();
      process.stderr.write(d);
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m && !child.port) {
        child.port = Number(m[1]);
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
}

// Polls /health until 200. Only a failed connection is retried; any other
// status than 503 ("loading") fails the test (the assertion sits outside
// the try, so its failure is not swallowed).
async function waitHealthy(port) {
  for (let i = 0; i < 600; i++) {
    let status = null;
    try {
      status = (await fetch(`http://127.0.0.1:${port}/health`)).status;
    } catch (e) { /* not yet accepting connections */ }
    if (status === 200) return;
    if (status !== null) assert.equal(status, 503, 'health answers 503 while loading');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server never became healthy');
}

function checkUsage(usage) {
  assert.ok(usage.prompt_tokens > 0);
  assert.ok(usage.completion_tokens > 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

async function run(client) {
  const models = await client.models.list();
  assert.equal(models.data[0].id, 'tiny');

  const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say something.' }];
  const chat = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
  assert.equal(chat.object, 'chat.completion');
  assert.match(chat.id, /^chatcmpl-/);
  assert.equal(chat.choices.length, 1);
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
  checkUsage(chat.usage);

  // The same greedy request streamed gives the same text and usage.
  const stream = await client.chat.completions.create({
    model: 'tiny', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      streamed += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(streamed, chat.choices[0].message.content);
  assert.equal(finish, chat.choices[0].finish_reason);
  assert.deepEqual(usage.completion_tokens, chat.usage.completion_tokens);

  // Completions: text and token prompts, streaming, n, logprobs, stop, seed.
  const completion = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.equal(completion.object, 'text_completion');
  assert.equal(completion.choices[0].finish_reason, 'length');
  assert.equal(completion.usage.completion_tokens, 8);
  const tokens = await client.completions.create({ model: 'tiny', prompt: [1, 2, 3, 4], max_tokens: 3, temperature: 0 });
  assert.equal(tokens.usage.prompt_tokens, 4);
  let streamedCompletion = '';
  for await (const chunk of await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true })) {
    for (const c of chunk.choices) streamedCompletion += c.text;
  }
  assert.equal(streamedCompletion, completion.choices[0].text);

  const multi = await client.chat.completions.create({
    model: 'tiny', messages, max_tokens: 6, n: 2, temperature: 1, seed: 7, logprobs: true, top_logprobs: 3,
  });
  assert.equal(multi.choices.length, 2);
  assert.deepEqual(multi.choices.map((c) => c.index), [0, 1]);
  for (const c of multi.choices) {
    assert.ok(c.logprobs.content.length > 0);
    for (const lp of c.logprobs.content) {
      assert.ok(lp.logprob <= 0);
      assert.equal(lp.top_logprobs.length, 3);
    }
  }
  const again = await client.chat.completions.create({
    model: 'tiny', messages, max_tokens: 6, n: 2, temperature: 1, seed: 7, logprobs: true, top_logprobs: 3,
  });
  assert.deepEqual(again.choices.map((c) => c.message.content), multi.choices.map((c) => c.message.content));

  const full = completion.choices[0].text;
  if (full.length > 4) {
    const stop = full.slice(2, 4);
    const stopped = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stop: [stop] });
    assert.equal(stopped.choices[0].finish_reason, 'stop');
    assert.equal(stopped.choices[0].text, full.slice(0, full.indexOf(stop)));
  }

  const json = await client.chat.completions.create({
    model: 'tiny', messages, max_tokens: 40, temperature: 0.7, seed: 1, response_format: { type: 'json_object' },
  });
  if (json.choices[0].finish_reason === 'stop') JSON.parse(json.choices[0].message.content);

  // Errors arrive as the client's typed errors with OpenAI's fields.
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages, temperature: 5 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, 'temperature');
    assert.equal(e.type, 'invalid_request_error');
    return true;
  });
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: 'x'.repeat(5000), max_tokens: 1 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.code, 'context_length_exceeded');
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages }), (e) => e.status === 404);
  const wrongKey = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrongKey.models.list(), (e) => e.status === 401);
}

const server = await startServer();
let failed = false;
try {
  await waitHealthy(server.port);
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey, maxRetries: 0, timeout: 60000 });
  await run(client);
  console.log('openai client: all checks passed');
} catch (e) {
  console.error(e);
  failed = true;
}
// Graceful shutdown: SIGTERM mid-stream stops new work but lets the stream
// run to its normal end (400 tokens, finish_reason "length", full usage)
// within --shutdown-timeout; an "abort" here would mean it was cut off.
const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
try {
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey, maxRetries: 0 });
  const stream = await client.completions.create({
    model: 'tiny', prompt: 'Long story:', max_tokens: 400, temperature: 0, stream: true, ignore_eos: true,
    stream_options: { include_usage: true },
  });
  let chunks = 0;
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunks++ === 0) server.kill('SIGTERM');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) finish = c.finish_reason ?? finish;
  }
  assert.equal(finish, 'length', `the drained stream ended with ${finish}`);
  assert.equal(usage?.completion_tokens, 400, 'every token of the drained stream arrived');
  console.log(`openai client: in-flight stream finished (${finish}, ${usage.completion_tokens} tokens) after SIGTERM`);
} catch (e) {
  console.error(e);
  failed = true;
  server.kill('SIGTERM');
}
const { code, signal } = await exited;
if (code !== 0) {
  console.error(`server exit after SIGTERM: code ${code} signal ${signal}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
