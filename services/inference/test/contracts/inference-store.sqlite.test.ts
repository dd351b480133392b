import { createSqliteInferenceStore } from '@capcheck/inference';
import { inferenceStoreContract } from './inference-store.contract';
import { tempSqlitePath } from '../../../../test-support/stores';

describe('inference store: SQLite adapter', () => {
  inferenceStoreContract(async () => createSqliteInferenceStore(tempSqlitePath()));

  // Writes of one event-loop turn share a transaction; they must still land in the order asked.
  test('a verdict whose bytes are forgotten in the turn it was saved in stays forgotten', async () => {
    const store = createSqliteInferenceStore(tempSqlitePath());
    try {
      const verdict = {
        sha256: 'ab'.repeat(32),
        modelName: 'bottle-state',
        modelVersion: '4',
        label: 'closed',
        confidence: 0.9,
        scores: { closed: 0.9, open: 0.1 },
        createdAt: new Date(),
      };
      const saved = store.predictions.save(verdict);
      const forgotten = store.predictions.deleteBySha256(verdict.sha256);
      await saved;
      expect(await forgotten).toBe(1);
      expect(await store.predictions.find(verdict.sha256, 'bottle-state', '4')).toBeNull();
    } finally {
      await store.close();
    }
  });
});
