/**
 * The capcheck HTTP API, as the page uses it: the same public routes and Bearer tokens as curl.
 * Errors become ApiError carrying the API's own words (`error.message`), so the page can show them as-is.
 */

export interface User {
  id: string;
  email: string;
  role: 'user' | 'admin';
  createdAt: string;
}
export interface LoginGrant {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}
export interface ImageRecord {
  id: string;
  filename: string;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
  sizeBytes: number;
  sha256: string;
  createdAt: string;
}
export interface Prediction {
  imageId: string;
  label: string;
  confidence: number;
  scores: Record<string, number>;
  /** False when the model is not sure (confidence below its certainty threshold): check by eye. */
  certain: boolean;
  model: { name: string; version: string };
  cached: boolean;
}
export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}
export interface PredictionLog {
  id: string;
  at: string;
  imageId: string;
  userId: string;
  apiKeyId: string | null;
  clientIp: string;
  userAgent: string;
  label: string;
  confidence: number;
  modelName: string;
  modelVersion: string;
  cached: boolean;
  latencyMs: number;
  /** A shadow candidate's answer beside the served one (null without a shadow rollout). */
  shadowModelVersion: string | null;
  shadowLabel: string | null;
  shadowConfidence: number | null;
}
/** What an image's owner says it shows, beside the served model's verdict on it. */
export interface Feedback {
  imageId: string;
  label: string;
  predicted: { label: string; confidence: number; model: { name: string; version: string } };
}
export interface AdminFeedback extends Feedback {
  userId: string;
  sha256: string;
  createdAt: string;
  updatedAt: string;
}
export interface RolloutCandidate {
  version: string;
  mode: 'shadow' | 'canary';
  /** Canary: the share of images (0–100) the candidate answers; null in shadow mode. */
  percent: number | null;
}
export interface ServedModel {
  name: string;
  version: string;
  labels: string[];
  certaintyThreshold: number | null;
  workers: number;
  testMetrics: Record<string, unknown>;
}
export interface Models {
  status: 'loading' | 'ready' | 'failed';
  items: ServedModel[];
  rollout: { current: string; candidate: RolloutCandidate | null } | null;
}
export interface Rollout {
  name: string;
  current: string;
  candidate: RolloutCandidate | null;
  updatedAt: string | null;
  updatedBy: string | null;
}
/** A new head fitted on the served model's embedding from the owners' feedback (a new version, not yet served). */
export interface Adaptation {
  id: string;
  model: { name: string; parentVersion: string };
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  version?: string;
  examples: { train: number; heldOut: number } | null;
  metrics?: { candidate: { accuracy: number }; current: { accuracy: number } };
  error?: string;
  createdAt: string;
  updatedAt: string;
}
export type RolloutRequest =
  { version: string; mode: 'shadow' | 'full' } | { version: string; mode: 'canary'; percent: number };
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from Retry-After (429 throttled, 503 saturated). */
    readonly retryAfter: number | null = null,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }

  /** The sentence shown to people: the API's message, plus what to do about it when it says. */
  describe(): string {
    const parts = [sentence(this.message)];
    for (const d of this.details)
      parts.push(sentence(d.path && d.path !== '(body)' ? `${d.path}: ${d.message}` : d.message));
    if (this.retryAfter !== null) parts.push(`Try again in ${formatSeconds(this.retryAfter)}.`);
    return parts.join(' ');
  }
}

const sentence = (s: string) => {
  const t = s.trim();
  return t ? t[0]!.toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.') : t;
};
const formatSeconds = (s: number) => (s < 90 ? `${s} second${s === 1 ? '' : 's'}` : `${Math.ceil(s / 60)} minutes`);

const SESSION_KEY = 'capcheck.session';

interface Session {
  accessToken: string;
  refreshToken: string;
}

/**
 * Tokens live in memory and in sessionStorage. sessionStorage keeps the user signed in across a
 * reload of this tab but ends with the tab, and it is not sent with every request as a cookie would
 * be (no CSRF surface). localStorage would keep a refresh token on a shared computer indefinitely.
 * The page allows no inline or third-party scripts (CSP), which is what keeps the tokens from being read.
 */
let session: Session | null = readSession();
let refreshing: Promise<boolean> | null = null;
let onSessionEnded: (() => void) | null = null;

function readSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const parsed = raw ? (JSON.parse(raw) as Partial<Session>) : null;
    return parsed?.accessToken && parsed.refreshToken
      ? { accessToken: parsed.accessToken, refreshToken: parsed.refreshToken }
      : null;
  } catch {
    return null; // storage disabled or corrupt: start signed out
  }
}

function saveSession(next: Session | null): void {
  session = next;
  try {
    if (next) sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // storage unavailable (private mode quotas): memory alone still works for this page's life
  }
}

export const hasSession = (): boolean => session !== null;

/** Called when the refresh token is refused too: the page goes back to sign-in. */
export function whenSessionEnds(handler: () => void): void {
  onSessionEnded = handler;
}

interface RequestOptions {
  json?: unknown;
  form?: FormData;
  /** Send the access token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form; // the browser writes the multipart boundary itself
  }
  if (options.auth !== false && session) headers.authorization = `Bearer ${session.accessToken}`;
  try {
    return await fetch(path, { method, headers, body, signal: options.signal ?? null, credentials: 'omit' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'Could not reach capcheck. Check your connection and try again');
  }
}

/** One refresh at a time: parallel calls that all got 401 share it (a refresh token is single use). */
function refreshOnce(): Promise<boolean> {
  if (!session) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await send('POST', '/auth/refresh', { json: { refreshToken: session?.refreshToken }, auth: false });
      if (!res.ok) return false;
      const grant = (await res.json()) as LoginGrant;
      saveSession({ accessToken: grant.accessToken, refreshToken: grant.refreshToken });
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A call with the access token; on a 401 it refreshes once and retries once. */
async function call(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const sentWith = session?.accessToken;
  let res = await send(method, path, options);
  if (res.status === 401 && options.auth !== false && sentWith) {
    // Another call may have refreshed already; otherwise refresh now.
    const refreshed = session?.accessToken !== sentWith || (await refreshOnce());
    if (refreshed) res = await send(method, path, options);
    if (res.status === 401) {
      saveSession(null);
      onSessionEnded?.();
    }
  }
  return res;
}

async function errorOf(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get('retry-after'));
  const retryAfter = res.headers.has('retry-after') && Number.isFinite(retry) ? retry : null;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    const details = Array.isArray(body.error?.details) ? (body.error.details as ApiError['details']) : [];
    return new ApiError(
      res.status,
      body.error?.code ?? 'error',
      body.error?.message ?? res.statusText,
      retryAfter,
      details,
    );
  } catch {
    // Not our JSON (a proxy's page): say what status came back.
    return new ApiError(res.status, 'error', `The server answered ${res.status} ${res.statusText}`, retryAfter);
  }
}

async function json<T>(res: Promise<Response>): Promise<T> {
  const r = await res;
  if (!r.ok) throw await errorOf(r);
  return (r.status === 204 ? null : await r.json()) as T;
}

export const api = {
  async register(email: string, password: string): Promise<User> {
    return json<User>(call('POST', '/auth/register', { json: { email, password }, auth: false }));
  },
  async login(email: string, password: string): Promise<void> {
    const grant = await json<LoginGrant>(call('POST', '/auth/login', { json: { email, password }, auth: false }));
    saveSession({ accessToken: grant.accessToken, refreshToken: grant.refreshToken });
  },
  async logout(): Promise<void> {
    const refreshToken = session?.refreshToken;
    saveSession(null);
    // Revoke the session server-side; being signed out locally does not depend on it.
    if (refreshToken)
      await send('POST', '/auth/logout', { json: { refreshToken }, auth: false }).catch(() => undefined);
  },
  me: () => json<User>(call('GET', '/users/me')),
  upload(file: File): Promise<ImageRecord> {
    const form = new FormData();
    form.append('image', file, file.name);
    return json<ImageRecord>(call('POST', '/images', { form }));
  },
  images: (cursor: string | null, limit = 12) =>
    json<Page<ImageRecord>>(
      call('GET', `/images?${new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) })}`),
    ),
  deleteImage: (id: string) => json<null>(call('DELETE', `/images/${encodeURIComponent(id)}`)),
  /** The bytes need the Authorization header, so an <img src> cannot fetch them: a blob does. */
  async imageBlob(id: string, signal?: AbortSignal): Promise<Blob> {
    const res = await call('GET', `/images/${encodeURIComponent(id)}/content`, signal ? { signal } : {});
    if (!res.ok) throw await errorOf(res);
    return res.blob();
  },
  /** GET /predict/:id, which computes on demand; 503 (busy, model loading) is thrown for the caller to retry. */
  predict: (id: string, signal?: AbortSignal) =>
    json<Prediction>(call('GET', `/predict/${encodeURIComponent(id)}`, signal ? { signal } : {})),
  apiKeys: () => json<{ items: ApiKey[] }>(call('GET', '/users/me/api-keys')),
  createApiKey: (name: string) =>
    json<ApiKey & { key: string }>(call('POST', '/users/me/api-keys', { json: { name } })),
  revokeApiKey: (id: string) => json<null>(call('DELETE', `/users/me/api-keys/${encodeURIComponent(id)}`)),
  /** PUT /predict/:id/feedback: the owner's answer; the last one wins. */
  giveFeedback: (imageId: string, label: string) =>
    json<Feedback>(call('PUT', `/predict/${encodeURIComponent(imageId)}/feedback`, { json: { label } })),
  feedback: (query: { label?: string; cursor?: string | null; limit?: number }) => {
    const params = new URLSearchParams({ limit: String(query.limit ?? 50) });
    if (query.label) params.set('label', query.label);
    if (query.cursor) params.set('cursor', query.cursor);
    return json<Page<AdminFeedback>>(call('GET', `/admin/api/feedback?${params}`));
  },
  predictionLogs: (query: { label?: string; cursor?: string | null; limit?: number }) => {
    const params = new URLSearchParams({ limit: String(query.limit ?? 50) });
    if (query.label) params.set('label', query.label);
    if (query.cursor) params.set('cursor', query.cursor);
    return json<Page<PredictionLog>>(call('GET', `/admin/api/prediction-logs?${params}`));
  },
  models: () => json<Models>(call('GET', '/models')),
  rollout: (name: string) => json<Rollout>(call('GET', `/admin/api/models/${encodeURIComponent(name)}/rollout`)),
  setRollout: (name: string, request: RolloutRequest) =>
    json<Rollout>(call('PUT', `/admin/api/models/${encodeURIComponent(name)}/rollout`, { json: request })),
  adaptations: (name: string) =>
    json<{ items: Adaptation[] }>(call('GET', `/admin/api/models/${encodeURIComponent(name)}/adaptations`)),
  adapt: (name: string) => json<Adaptation>(call('POST', `/admin/api/models/${encodeURIComponent(name)}/adaptations`)),
};
