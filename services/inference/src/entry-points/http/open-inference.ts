import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z, ZodError } from 'zod';
import { AppError, detectFormat, requireAuth, statusOfKind, type AccessTokenVerifier } from '@capcheck/shared';
import type { LoadedModel, ModelProvider } from '../../domain/ports';
import { maxBatchPictures, tagService } from './routes';

/**
 * The Open Inference Protocol (KServe V2), REST: server and model health, model metadata, and
 * inference on the model's own tensor (UINT8 [N, H, W, 3]) or on encoded pictures (BYTES, base64,
 * declared with a `content_type` parameter). Errors are `{"error": "…"}`, as the protocol says.
 */
export const openInferencePathPrefixes = ['/v2'];

/** The most pictures one infer request may carry, as POST /predict/batch. */
const maxInferBatch = maxBatchPictures;
/** `content_type` values that declare BYTES elements as base64-encoded pictures (MLServer's codecs). */
const pictureContentTypes = ['base64', 'pil_image'];

const parameters = z.record(z.string().max(100), z.union([z.string().max(200), z.number(), z.boolean()])).optional();
const inferRequest = z.object({
  id: z.string().max(200).optional(),
  parameters,
  inputs: z
    .array(
      z.object({
        name: z.string().max(200),
        shape: z.array(z.number().int().min(0)).min(1).max(8),
        datatype: z.string().max(16),
        parameters,
        data: z.array(z.unknown()),
      }),
    )
    .length(1, 'the model has exactly one input'),
  outputs: z
    .array(z.object({ name: z.string().max(200), parameters }))
    .max(8)
    .optional(),
});
type InferInput = z.output<typeof inferRequest>['inputs'][number];

const invalid = (message: string, cause?: unknown) =>
  new AppError('invalid', 'invalid_infer_request', message, cause === undefined ? {} : { cause });

export function createOpenInferenceRouter(deps: {
  models: ModelProvider;
  verifier: AccessTokenVerifier;
  serverVersion: string;
  /** The largest infer request body (JSON); the HTTP shell leaves /v2 bodies to this router. */
  maxBodyBytes: number;
}): Router {
  const { models } = deps;
  const router = Router();
  router.use(
    openInferencePathPrefixes,
    tagService,
    requireAuth(deps.verifier),
    express.json({ limit: deps.maxBodyBytes, strict: true }),
  );

  /** The served model, when `name` (and `version`, if given) designate it; a 404 otherwise. */
  const served = (req: Request): LoadedModel => {
    const { name, version } = req.params as { name: string; version?: string };
    const model = models.current();
    const { manifest } = model;
    if (name !== manifest.name) throw new AppError('not_found', 'model_not_found', `no model named "${name}"`);
    if (version !== undefined && version !== manifest.version) {
      throw new AppError('not_found', 'version_not_found', `${name} version "${version}" is not served`);
    }
    return model;
  };

  router.get('/v2', (_req, res) => {
    res.json({ name: 'capcheck', version: deps.serverVersion, extensions: [] });
  });
  router.get('/v2/health/live', (_req, res) => {
    res.json({ live: true });
  });
  router.get('/v2/health/ready', (_req, res) => {
    const ready = models.state().state === 'ready';
    res.status(ready ? 200 : 503).json({ ready });
  });

  for (const path of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    router.get(path, (req, res) => {
      const { manifest } = served(req);
      const [height, width] = manifest.inputShape;
      res.json({
        name: manifest.name,
        versions: [manifest.version],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: manifest.inputName, datatype: 'UINT8', shape: [-1, height, width, 3] }],
        outputs: [{ name: manifest.outputName, datatype: 'FP32', shape: [-1, manifest.labels.length] }],
      });
    });
    router.get(`${path}/ready`, (req, res) => {
      res.json({ name: served(req).manifest.name, ready: true });
    });
    router.post(`${path}/infer`, async (req, res) => {
      const model = served(req);
      const request = inferRequest.parse(req.body);
      const { manifest } = model;
      const unknown = request.outputs?.find((o) => o.name !== manifest.outputName);
      if (unknown) throw invalid(`the model has no output "${unknown.name}"; it has "${manifest.outputName}"`);
      const [input] = request.inputs as [InferInput];
      if (input.name !== manifest.inputName) {
        throw invalid(`the model has no input "${input.name}"; its input is "${manifest.inputName}"`);
      }
      const scores =
        input.datatype === 'BYTES'
          ? await classifyPictures(picturesOf(input, request.parameters), model)
          : await model.run(tensorImages(input, model));
      res.json({
        model_name: manifest.name,
        model_version: manifest.version,
        ...(request.id === undefined ? {} : { id: request.id }),
        outputs: [
          {
            name: manifest.outputName,
            datatype: 'FP32',
            shape: [scores.length, manifest.labels.length],
            data: scores.flatMap((row) => Array.from(row)),
          },
        ],
      });
    });
  }

  router.use('/v2', (_req, _res, next) => next(new AppError('not_found', 'route_not_found', 'no such route')));
  router.use('/v2', openInferenceErrors);
  return router;
}

/** UINT8 [N, H, W, 3], flat or nested, row-major: split into the N images the pool runs. */
function tensorImages(input: InferInput, model: LoadedModel): Uint8Array[] {
  const [height, width] = model.manifest.inputShape;
  const expected = `UINT8 [N, ${height}, ${width}, 3] with 1 ≤ N ≤ ${maxInferBatch}, or BYTES pictures`;
  if (input.datatype !== 'UINT8') throw invalid(`input "${input.name}" must be ${expected}, not ${input.datatype}`);
  const [count = 0, h, w, c] = input.shape;
  if (input.shape.length !== 4 || h !== height || w !== width || c !== 3 || count < 1 || count > maxInferBatch) {
    throw invalid(`input "${input.name}" must be ${expected}, not [${input.shape.join(', ')}]`);
  }
  const values = input.data.flat(3);
  const size = height * width * 3;
  if (values.length !== count * size) {
    throw invalid(
      `input "${input.name}" has ${values.length} values; shape [${input.shape.join(', ')}] needs ${count * size}`,
    );
  }
  const tensor = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
      throw invalid(`input "${input.name}": element ${i} is not a UINT8 (an integer from 0 to 255)`);
    }
    tensor[i] = v;
  }
  return Array.from({ length: count }, (_, i) => tensor.subarray(i * size, (i + 1) * size));
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** BYTES [N] (or [N, 1]): base64-encoded JPEG, PNG or WebP pictures, decoded from base64. */
function picturesOf(input: InferInput, requestParameters: Record<string, unknown> | undefined): Buffer[] {
  const contentType = input.parameters?.content_type ?? requestParameters?.content_type;
  if (typeof contentType !== 'string' || !pictureContentTypes.includes(contentType)) {
    throw invalid(
      `BYTES input "${input.name}" needs parameters.content_type ${pictureContentTypes.map((t) => `"${t}"`).join(' or ')}: ` +
        'each element a base64-encoded JPEG, PNG or WebP picture',
    );
  }
  const [count = 0, ...rest] = input.shape;
  if (count < 1 || count > maxInferBatch || rest.some((d) => d !== 1) || input.data.length !== count) {
    throw invalid(
      `BYTES input "${input.name}" must have shape [N] with 1 ≤ N ≤ ${maxInferBatch} and N elements, ` +
        `not [${input.shape.join(', ')}] with ${input.data.length}`,
    );
  }
  return input.data.map((element, i) => {
    if (typeof element !== 'string' || !base64.test(element)) throw invalid(`element ${i} is not a base64 string`);
    const bytes = Buffer.from(element, 'base64');
    if (!detectFormat(bytes)) throw invalid(`element ${i} is not a JPEG, PNG or WebP picture`);
    return bytes;
  });
}

/**
 * The pictures' probabilities, in order: the model's workers decode them as the manifest says, in
 * shared batches. One that cannot be decoded fails the request as the protocol's 400, naming it.
 */
function classifyPictures(pictures: Buffer[], model: LoadedModel): Promise<Float32Array[]> {
  return Promise.all(
    model.classifyEach(pictures).map((scores, i) =>
      scores.catch((err: unknown) => {
        if (err instanceof AppError && err.kind === 'unprocessable') {
          throw invalid(`element ${i}: ${err.message}`, err);
        }
        throw err;
      }),
    ),
  );
}

/** Every failure under /v2 as the protocol's error object. */
function openInferenceErrors(err: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    res.status(400).json({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    return;
  }
  const bodyError = err as { type?: string };
  if (bodyError.type === 'entity.parse.failed') {
    res.status(400).json({ error: 'the body is not valid JSON' });
    return;
  }
  if (bodyError.type === 'entity.too.large') {
    res.status(413).json({ error: 'the body is too large' });
    return;
  }
  if (err instanceof AppError) {
    if (err.extra.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.extra.retryAfterSeconds));
    if (err.kind === 'unauthenticated') res.setHeader('WWW-Authenticate', `Bearer error="invalid_token"`);
    res.status(statusOfKind[err.kind]).json({ error: err.message });
    return;
  }
  next(err);
}
