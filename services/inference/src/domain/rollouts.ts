import { AppError, type Logger, type UserId } from '@capcheck/shared';
import type { CandidateMode, ModelVersions, RolloutRecord, RolloutRepository, RolloutTarget } from './ports';

/** What an admin asks for: a version, and how it is rolled out. */
export type RolloutRequest =
  | { version: string; mode: 'full' }
  | { version: string; mode: 'shadow' }
  | { version: string; mode: 'canary'; percent: number };

export interface RolloutView {
  name: string;
  current: string;
  candidate: { version: string; mode: CandidateMode; percent: number | null } | null;
  /** Null while no rollout was ever stored (the configured version is served). */
  updatedAt: Date | null;
  updatedBy: UserId | null;
}

export interface RolloutsDomainDeps {
  rollouts: RolloutRepository;
  models: ModelVersions;
  logger: Logger;
  clock: { now(): Date };
}

const unknownModel = () => new AppError('not_found', 'not_found', 'model not found');

/**
 * Rollouts of model versions. The rollout lives in the store; every replica polls it (`sync`) and
 * serves what it says, so all follow one PUT within a poll interval, and a restart keeps it.
 */
export class RolloutsDomain {
  constructor(private readonly deps: RolloutsDomainDeps) {}

  async view(name: string): Promise<RolloutView> {
    if (name !== this.deps.models.name) throw unknownModel();
    const stored = await this.deps.rollouts.find(name);
    if (stored) return { ...this.targetView(name, stored), updatedAt: stored.updatedAt, updatedBy: stored.updatedBy };
    return { ...this.targetView(name, this.served()), updatedAt: null, updatedBy: null };
  }

  /**
   * Stores a rollout once this replica has loaded its versions (a version that does not load is
   * refused here, not found broken on every replica), then serves it. `full` makes the version the
   * current one (rolling back is a full rollout of the previous version); `shadow` and `canary` try
   * it beside the current one.
   */
  async set(name: string, request: RolloutRequest, by: UserId): Promise<RolloutView> {
    const { models, rollouts } = this.deps;
    if (name !== models.name) throw unknownModel();
    if (!models.exists(request.version)) {
      throw new AppError('not_found', 'version_not_found', `model ${name} has no version ${request.version}`);
    }
    // A full rollout needs no current version: it also brings back a replica whose configured version
    // did not load.
    const target =
      request.mode === 'full'
        ? { current: request.version, candidate: null }
        : besideCurrent(request, (await rollouts.find(name))?.current ?? this.served().current);
    await models.prepare(target);
    const record: RolloutRecord = { modelName: name, ...target, updatedAt: this.deps.clock.now(), updatedBy: by };
    await rollouts.save(record);
    await models.follow(target);
    this.deps.logger.info({ model: name, ...target, by }, 'model rollout set');
    return { ...this.targetView(name, record), updatedAt: record.updatedAt, updatedBy: by };
  }

  /** Follows the stored rollout (none stored: the configured version stays). Called on every poll. */
  async sync(): Promise<void> {
    const stored = await this.deps.rollouts.find(this.deps.models.name);
    if (stored) await this.deps.models.follow({ current: stored.current, candidate: stored.candidate });
  }

  private served(): RolloutTarget {
    const served = this.deps.models.target();
    if (!served)
      throw new AppError('unavailable', 'model_unavailable', 'the model is still loading', { retryAfterSeconds: 5 });
    return served;
  }

  private targetView(name: string, target: RolloutTarget) {
    return { name, current: target.current, candidate: target.candidate };
  }
}

/** The versions a stored rollout says to serve (null: none stored), for start-up. */
export async function storedTarget(rollouts: RolloutRepository, name: string): Promise<RolloutTarget | null> {
  const stored = await rollouts.find(name);
  return stored ? { current: stored.current, candidate: stored.candidate } : null;
}

/** A shadow or canary candidate beside the current version. */
function besideCurrent(request: Exclude<RolloutRequest, { mode: 'full' }>, current: string): RolloutTarget {
  if (request.version === current) {
    throw new AppError('conflict', 'already_current', `version ${request.version} is already the current version`);
  }
  const percent = request.mode === 'canary' ? request.percent : null;
  return { current, candidate: { version: request.version, mode: request.mode, percent } };
}
