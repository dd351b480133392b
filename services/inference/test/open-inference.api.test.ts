// The Open Inference Protocol (KServe V2, REST). Request bodies follow the protocol's specification
// (inference_rest.md in kserve/open-inference-protocol): `$inference_request` = { id?, parameters?,
// inputs: [{ name, shape, datatype, parameters?, data }], outputs?: [{ name }] }, tensor data
// row-major, flat or nested; errors `{ "error": $string }`.
import { preprocess, type ModelManifest } from '@capcheck/inference';
import { signUp, startLocal, type LocalSystem } from '../../../test-support/local';
import { uniqueEmail } from '../../../test-support/http';
import { samplePicture as sample, servedModel } from '../../../test-support/models';

interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
}

let sys: LocalSystem;
let token: string;
let served: ModelManifest;
const maxBody = 2 * 1024 * 1024;
beforeAll(async () => {
  served = await servedModel();
  sys = await startLocal({ OPEN_INFERENCE_MAX_BODY_BYTES: String(maxBody) });
  token = (await signUp(sys.api, uniqueEmail('v2'))).accessToken;
});
afterAll(() => sys.close());

const infer = <T = InferResponse>(body: unknown, path = `/v2/models/${served.name}/infer`) =>
  sys.api.post<T>(path, { json: body, token });
const pixelsOf = async (file: string) => Array.from(await preprocess(sample(file), served, 40e6));
const tensorShape = () => [served.inputShape[0], served.inputShape[1], 3];
const pictureInput = (files: string[], parameters: Record<string, unknown> = { content_type: 'base64' }) => ({
  name: 'image',
  shape: [files.length],
  datatype: 'BYTES',
  parameters,
  data: files.map((f) => sample(f).toString('base64')),
});

test('server metadata, liveness and readiness', async () => {
  const meta = await sys.api.get('/v2', { token });
  expect(meta.status).toBe(200);
  expect(meta.body).toEqual({ name: 'capcheck', version: expect.any(String), extensions: [] });
  expect((await sys.api.get('/v2/health/live', { token })).body).toEqual({ live: true });
  const ready = await sys.api.get('/v2/health/ready', { token });
  expect(ready.status).toBe(200);
  expect(ready.body).toEqual({ ready: true });
});

test('model metadata names the input and output tensors, variable dimensions as -1, with or without the version', async () => {
  const [height, width] = served.inputShape;
  const expected = {
    name: 'bottle-state',
    versions: [served.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'image', datatype: 'UINT8', shape: [-1, height, width, 3] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
  };
  for (const path of ['/v2/models/bottle-state', `/v2/models/bottle-state/versions/${served.version}`]) {
    const res = await sys.api.get(path, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expected);
    const ready = await sys.api.get(`${path}/ready`, { token });
    expect(ready.body).toEqual({ name: 'bottle-state', ready: true });
  }
});

test('UINT8 [N, H, W, 3]: the model input as it is, flat or nested; the id comes back', async () => {
  const closed = await pixelsOf('closed-1.jpg');
  const open = await pixelsOf('open-1.jpg');
  const flat = await infer({
    id: '42',
    inputs: [{ name: 'image', shape: [2, ...tensorShape()], datatype: 'UINT8', data: [...closed, ...open] }],
    outputs: [{ name: 'probabilities' }],
  });
  expect(flat.status).toBe(200);
  expect(flat.body).toEqual({
    model_name: 'bottle-state',
    model_version: served.version,
    id: '42',
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [2, 2], data: expect.any(Array) }],
  });
  const [pClosed, , , pOpen] = flat.body.outputs[0]!.data;
  expect(pClosed).toBeGreaterThan(0.5); // labels in manifest order: closed, open
  expect(pOpen).toBeGreaterThan(0.5);

  // Nested rows, as numpy's tolist() would send them: the same answer.
  const [height, width] = served.inputShape;
  const rows = Array.from({ length: height }, (_, y) =>
    Array.from({ length: width }, (_, x) => closed.slice((y * width + x) * 3, (y * width + x) * 3 + 3)),
  );
  const nested = await infer({
    inputs: [{ name: 'image', shape: [1, ...tensorShape()], datatype: 'UINT8', data: [rows] }],
  });
  expect(nested.status).toBe(200);
  expect(nested.body.id).toBeUndefined();
  expect(nested.body.outputs[0]!.data).toEqual(flat.body.outputs[0]!.data.slice(0, 2));
});

test('BYTES: base64 pictures declared with content_type give the same probabilities as their tensors', async () => {
  const res = await infer({ inputs: [pictureInput(['closed-1.jpg', 'open-1.jpg'])] });
  expect(res.status).toBe(200);
  expect(res.body.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, 2] });
  const tensor = await infer({
    inputs: [
      {
        name: 'image',
        shape: [2, ...tensorShape()],
        datatype: 'UINT8',
        data: [...(await pixelsOf('closed-1.jpg')), ...(await pixelsOf('open-1.jpg'))],
      },
    ],
  });
  expect(res.body.outputs[0]!.data).toEqual(tensor.body.outputs[0]!.data);
  // The content type may also be a request parameter, and MLServer's image codec name is understood.
  const { parameters: _none, ...bare } = pictureInput(['open-2.jpg']);
  const byRequest = await infer({ parameters: { content_type: 'pil_image' }, inputs: [bare] });
  expect(byRequest.status).toBe(200);
  expect(byRequest.body.outputs[0]!.shape).toEqual([1, 2]);
});

test.each([
  [
    'FP32 instead of UINT8',
    async () => ({ name: 'image', shape: [1, ...tensorShape()], datatype: 'FP32', data: [] }),
    /UINT8/,
  ],
  [
    'a 128×128 tensor',
    async () => ({ name: 'image', shape: [1, 128, 128, 3], datatype: 'UINT8', data: [] }),
    /must be UINT8/,
  ],
  [
    'fewer values than the shape needs',
    async () => ({ name: 'image', shape: [1, ...tensorShape()], datatype: 'UINT8', data: [1, 2, 3] }),
    /has 3 values/,
  ],
  [
    'a value outside 0..255',
    async () => {
      const data = await pixelsOf('closed-1.jpg');
      data[7] = 300;
      return { name: 'image', shape: [1, ...tensorShape()], datatype: 'UINT8', data };
    },
    /element 7 is not a UINT8/,
  ],
  [
    'an input name the model does not have',
    async () => ({ ...pictureInput(['open-1.jpg']), name: 'input0' }),
    /no input "input0"/,
  ],
  ['BYTES without a content_type', async () => pictureInput(['open-1.jpg'], {}), /content_type/],
  [
    'BYTES that are not base64',
    async () => ({ ...pictureInput(['open-1.jpg']), data: ['not base64!'] }),
    /element 0 is not a base64/,
  ],
  [
    'a corrupt picture among good ones',
    async () => {
      const input = pictureInput(['open-1.jpg', 'closed-1.jpg']);
      input.data[1] = sample('closed-1.jpg').subarray(0, 600).toString('base64');
      return input;
    },
    /element 1/,
  ],
  [
    'a picture that is not JPEG, PNG or WebP',
    async () => ({ ...pictureInput(['open-1.jpg']), data: [Buffer.from('GIF89a....').toString('base64')] }),
    /not a JPEG, PNG or WebP/,
  ],
  ['33 pictures', async () => pictureInput(Array.from({ length: 33 }, () => 'open-1.jpg')), /1 ≤ N ≤ 32/],
])('400 for %s, as {"error": "…"}', async (_name, input, message) => {
  const res = await infer<{ error: string }>({ inputs: [await input()] });
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ error: expect.stringMatching(message) });
});

test('400 for a body that is not an inference request: no inputs, an unknown output, not JSON', async () => {
  const none = await infer<{ error: string }>({ inputs: [] });
  expect(none.status).toBe(400);
  expect(none.body.error).toMatch(/inputs/);
  const output = await infer<{ error: string }>({
    inputs: [pictureInput(['open-1.jpg'])],
    outputs: [{ name: 'logits' }],
  });
  expect(output.status).toBe(400);
  expect(output.body.error).toMatch(/no output "logits"/);
  const broken = await sys.api.post<{ error: string }>('/v2/models/bottle-state/infer', {
    rawBody: '{"inputs": [',
    token,
  });
  expect(broken.status).toBe(400);
  expect(broken.body).toEqual({ error: 'the body is not valid JSON' });
});

test('413 for a body over the limit', async () => {
  const res = await infer<{ error: string }>({ inputs: [pictureInput(['open-1.jpg'])], padding: 'x'.repeat(maxBody) });
  expect(res.status).toBe(413);
  expect(res.body).toEqual({ error: 'the body is too large' });
});

test('404 for a model or a version that is not served, and for an unknown /v2 route', async () => {
  const body = { inputs: [pictureInput(['open-1.jpg'])] };
  for (const [method, path] of [
    ['post', '/v2/models/resnet50/infer'],
    ['post', '/v2/models/bottle-state/versions/999/infer'],
    ['get', '/v2/models/bottle-state/versions/999'],
    ['get', '/v2/models/resnet50/ready'],
    ['get', '/v2/repository/index'],
  ] as const) {
    const res = await sys.api[method]<{ error: string }>(path, method === 'post' ? { json: body, token } : { token });
    expect([path, res.status]).toEqual([path, 404]);
    expect(res.body).toEqual({ error: expect.any(String) });
  }
});

test('the same auth as every route: no token or a bad one is 401, as {"error": "…"}', async () => {
  for (const auth of [undefined, 'not.a.token']) {
    const res = await sys.api.post<{ error: string }>('/v2/models/bottle-state/infer', {
      json: { inputs: [pictureInput(['open-1.jpg'])] },
      ...(auth ? { token: auth } : {}),
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: expect.any(String) });
    expect((await sys.api.get('/v2/models/bottle-state', auth ? { token: auth } : {})).status).toBe(401);
  }
});
