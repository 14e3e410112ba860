// Ready-to-run requests for one model in curl, Python, JavaScript and Go, with this deployment's base
// URL, key prefix and the model's id; the endpoint follows what the model can do.
import type { ModelView } from './api';

interface Endpoint { path: string; body: Record<string, unknown>; binary?: string; multipart?: boolean }

function endpointFor(model: ModelView): Endpoint {
  const caps = new Set(model.capabilities);
  if (caps.has('chat')) {
    return { path: '/chat/completions', body: { model: model.id, messages: [{ role: 'user', content: 'Say hello in one sentence.' }] } };
  }
  if (caps.has('embeddings')) return { path: '/embeddings', body: { model: model.id, input: 'The quick brown fox' } };
  if (caps.has('images')) {
    const size = model.sizes?.[0] ?? '1024x1024';
    return { path: '/images/generations', body: { model: model.id, prompt: 'A lighthouse at dawn, watercolor', size } };
  }
  if (caps.has('speech')) {
    const voice = model.voices?.[0] ?? 'alloy';
    const format = model.formats?.[0] ?? 'mp3';
    return { path: '/audio/speech', body: { model: model.id, input: 'Hello from Floodgate.', voice, response_format: format }, binary: `speech.${format}` };
  }
  if (caps.has('transcriptions')) return { path: '/audio/transcriptions', body: { model: model.id }, multipart: true };
  if (caps.has('video')) return { path: '/videos/generations', body: { model: model.id, prompt: 'Waves rolling onto a beach', seconds: 4 } };
  if (caps.has('completions')) return { path: '/completions', body: { model: model.id, prompt: 'Once upon a time', max_tokens: 32 } };
  return { path: '/chat/completions', body: { model: model.id, messages: [{ role: 'user', content: 'Hello' }] } };
}

const pyValue = (value: unknown): string =>
  JSON.stringify(value, null, 4).replace(/\btrue\b/g, 'True').replace(/\bfalse\b/g, 'False').replace(/\bnull\b/g, 'None');

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text.split('\n').map((line, i) => (i === 0 ? line : pad + line)).join('\n');
}

export function codeSamples(model: ModelView, baseUrl: string, keyPrefix: string): { name: string; code: string }[] {
  const base = baseUrl.replace(/\/$/, '');
  const endpoint = endpointFor(model);
  const url = `${base}${endpoint.path}`;
  const keyNote = `# Your key starts with "${keyPrefix}"; create one on the Keys page.`;
  const json = JSON.stringify(endpoint.body, null, 2);

  if (endpoint.multipart) {
    return [
      { name: 'curl', code: `${keyNote}\ncurl ${url} \\\n  -H "Authorization: Bearer $FLOODGATE_API_KEY" \\\n  -F model=${model.id} \\\n  -F file=@audio.mp3` },
      { name: 'Python', code: `${keyNote}\nimport os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${base}", api_key=os.environ["FLOODGATE_API_KEY"])\nwith open("audio.mp3", "rb") as f:\n    text = client.audio.transcriptions.create(model="${model.id}", file=f)\nprint(text.text)` },
      { name: 'JavaScript', code: `// Your key starts with "${keyPrefix}"; create one on the Keys page.\nimport fs from "node:fs";\nimport OpenAI from "openai";\n\nconst client = new OpenAI({ baseURL: "${base}", apiKey: process.env.FLOODGATE_API_KEY });\nconst text = await client.audio.transcriptions.create({ model: "${model.id}", file: fs.createReadStream("audio.mp3") });\nconsole.log(text.text);` },
      { name: 'Go', code: goMultipart(url, model.id, keyPrefix) },
    ];
  }

  const curl = `${keyNote}\ncurl ${url} \\\n  -H "Authorization: Bearer $FLOODGATE_API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '${json.replace(/'/g, "'\\''")}'${endpoint.binary ? ` \\\n  --output ${endpoint.binary}` : ''}`;

  let python: string;
  let javascript: string;
  const pyHead = `${keyNote}\nimport os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${base}", api_key=os.environ["FLOODGATE_API_KEY"])\n`;
  const fsImport = endpoint.binary ? 'import fs from "node:fs";\n' : '';
  const jsHead = `// Your key starts with "${keyPrefix}"; create one on the Keys page.\n${fsImport}import OpenAI from "openai";\n\nconst client = new OpenAI({ baseURL: "${base}", apiKey: process.env.FLOODGATE_API_KEY });\n`;
  const pyArgs = Object.entries(endpoint.body).map(([k, v]) => `    ${k}=${indent(pyValue(v), 4)},`).join('\n');
  const jsArgs = indent(JSON.stringify(endpoint.body, null, 2), 0);
  switch (endpoint.path) {
    case '/chat/completions':
      python = `${pyHead}response = client.chat.completions.create(\n${pyArgs}\n)\nprint(response.choices[0].message.content)`;
      javascript = `${jsHead}const response = await client.chat.completions.create(${jsArgs});\nconsole.log(response.choices[0].message.content);`;
      break;
    case '/embeddings':
      python = `${pyHead}response = client.embeddings.create(\n${pyArgs}\n)\nprint(len(response.data[0].embedding))`;
      javascript = `${jsHead}const response = await client.embeddings.create(${jsArgs});\nconsole.log(response.data[0].embedding.length);`;
      break;
    case '/images/generations':
      python = `${pyHead}response = client.images.generate(\n${pyArgs}\n)\nprint(response.data[0].url or "b64 image received")`;
      javascript = `${jsHead}const response = await client.images.generate(${jsArgs});\nconsole.log(response.data[0].url ?? "b64 image received");`;
      break;
    case '/audio/speech':
      python = `${pyHead}response = client.audio.speech.create(\n${pyArgs}\n)\nresponse.write_to_file("${endpoint.binary}")`;
      javascript = `${jsHead}const response = await client.audio.speech.create(${jsArgs});\nfs.writeFileSync("${endpoint.binary}", Buffer.from(await response.arrayBuffer()));`;
      break;
    case '/completions':
      python = `${pyHead}response = client.completions.create(\n${pyArgs}\n)\nprint(response.choices[0].text)`;
      javascript = `${jsHead}const response = await client.completions.create(${jsArgs});\nconsole.log(response.choices[0].text);`;
      break;
    default:
      python = `${pyHead}response = client.post("${endpoint.path}", body=${indent(pyValue(endpoint.body), 0)}, cast_to=object)\nprint(response)`;
      javascript = `${jsHead}const response = await client.post("${endpoint.path}", { body: ${indent(JSON.stringify(endpoint.body, null, 2), 2)} });\nconsole.log(response);`;
  }
  return [
    { name: 'curl', code: curl },
    { name: 'Python', code: python },
    { name: 'JavaScript', code: javascript },
    { name: 'Go', code: goJson(url, json, keyPrefix, endpoint.binary) },
  ];
}

function goJson(url: string, json: string, keyPrefix: string, binary: string | undefined): string {
  const output = binary
    ? `\tout, _ := os.Create("${binary}")\n\tdefer out.Close()\n\tio.Copy(out, resp.Body)\n\tfmt.Println(resp.Status)`
    : `\tdata, _ := io.ReadAll(resp.Body)\n\tfmt.Println(resp.Status, string(data))`;
  return `// Your key starts with "${keyPrefix}"; create one on the Keys page.
package main

import (
\t"fmt"
\t"io"
\t"net/http"
\t"os"
\t"strings"
)

func main() {
\tbody := strings.NewReader(\`${json}\`)
\treq, _ := http.NewRequest("POST", "${url}", body)
\treq.Header.Set("Authorization", "Bearer "+os.Getenv("FLOODGATE_API_KEY"))
\treq.Header.Set("Content-Type", "application/json")
\tresp, err := http.DefaultClient.Do(req)
\tif err != nil {
\t\tpanic(err)
\t}
\tdefer resp.Body.Close()
${output}
}`;
}

function goMultipart(url: string, model: string, keyPrefix: string): string {
  return `// Your key starts with "${keyPrefix}"; create one on the Keys page.
package main

import (
\t"bytes"
\t"fmt"
\t"io"
\t"mime/multipart"
\t"net/http"
\t"os"
)

func main() {
\tvar buf bytes.Buffer
\tform := multipart.NewWriter(&buf)
\tform.WriteField("model", "${model}")
\tpart, _ := form.CreateFormFile("file", "audio.mp3")
\taudio, _ := os.ReadFile("audio.mp3")
\tpart.Write(audio)
\tform.Close()
\treq, _ := http.NewRequest("POST", "${url}", &buf)
\treq.Header.Set("Authorization", "Bearer "+os.Getenv("FLOODGATE_API_KEY"))
\treq.Header.Set("Content-Type", form.FormDataContentType())
\tresp, err := http.DefaultClient.Do(req)
\tif err != nil {
\t\tpanic(err)
\t}
\tdefer resp.Body.Close()
\tdata, _ := io.ReadAll(resp.Body)
\tfmt.Println(resp.Status, string(data))
}`;
}

/** The landing page's quick start: the first chat model, or a placeholder id. */
export function quickStart(baseUrl: string, keyPrefix: string, modelId: string): { name: string; code: string }[] {
  const model: ModelView = {
    id: modelId, aliases: [], owned_by: '', family: '', category: 'text', context_length: null, max_output_tokens: null,
    capabilities: ['chat'], pricing: {}, live: true,
  };
  return codeSamples(model, baseUrl, keyPrefix).filter((s) => s.name !== 'Go');
}
