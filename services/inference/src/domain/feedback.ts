import {
  AppError,
  type Caller,
  type HandlerOutcome,
  type ImageDeleted,
  type ImageId,
  type Page,
} from '@capcheck/shared';
import type {
  DescribedImage,
  FeedbackQuery,
  FeedbackRecord,
  FeedbackRepository,
  FeedbackTelemetry,
  ModelProvider,
  PredictionRecord,
} from './ports';

/** What feedback needs of predictions: the served model's verdict on one of the caller's images. */
export interface VerdictSource {
  verdictOn(caller: Caller, id: ImageId | null): Promise<{ image: DescribedImage; prediction: PredictionRecord }>;
}

export interface FeedbackDomainDeps {
  feedback: FeedbackRepository;
  verdicts: VerdictSource;
  model: ModelProvider;
  telemetry: FeedbackTelemetry;
  clock: { now(): Date };
}

const unknownLabel = (labels: readonly string[]) =>
  new AppError('invalid', 'unknown_label', `label must be one of: ${labels.join(', ')}`);

/** Owners say what their images show; admins read it; adaptation learns from it. */
export class FeedbackDomain {
  constructor(private readonly deps: FeedbackDomainDeps) {}

  /**
   * The owner's answer for an image, next to the served model's verdict on it. Someone else's image
   * is not found, as everywhere. The last answer wins.
   */
  async give(caller: Caller, id: ImageId | null, label: string): Promise<FeedbackRecord> {
    const { labels } = this.deps.model.current().manifest;
    if (!labels.includes(label)) throw unknownLabel(labels);
    const { image, prediction } = await this.deps.verdicts.verdictOn(caller, id);
    const now = this.deps.clock.now();
    const stored = await this.deps.feedback.upsert({
      imageId: image.imageId,
      userId: caller.principal.userId,
      sha256: image.sha256,
      label,
      predicted: {
        label: prediction.label,
        confidence: prediction.confidence,
        model: { name: prediction.modelName, version: prediction.modelVersion },
      },
      createdAt: now,
      updatedAt: now,
    });
    this.deps.telemetry.feedback({
      label,
      agreed: label === prediction.label,
      modelVersion: prediction.modelVersion,
    });
    return stored;
  }

  /** Admins: the answers, newest first. A label filter must be one the served model knows (while it is loading, any). */
  list(query: FeedbackQuery): Promise<Page<FeedbackRecord>> {
    const model = this.deps.model.state();
    if (query.label !== undefined && model.state === 'ready' && !model.manifest.labels.includes(query.label))
      throw unknownLabel(model.manifest.labels);
    return this.deps.feedback.list(query);
  }

  /** Every answer: what adaptation fits a new head on. */
  labelled(): Promise<FeedbackRecord[]> {
    return this.deps.feedback.labelled();
  }

  /** `image.deleted`: what the owner said about the image goes with it. Idempotent. */
  async forget(event: ImageDeleted): Promise<HandlerOutcome> {
    await this.deps.feedback.deleteByImageId(event.imageId);
    return 'ack';
  }
}
