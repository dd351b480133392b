import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AdaptedHead, ModelManifest, ModelWriter, NewVersionLineage } from '../domain/ports';
import { nextVersion, versionExists, type ModelFolders } from './model-repository';
import { withNewHead } from './onnx-head';

function modelCard(manifest: Record<string, unknown>, lineage: NewVersionLineage): string {
  const { examples, metrics } = lineage;
  const percent = (x: number) => `${(x * 100).toFixed(1)} %`;
  return `# ${String(manifest.name)} v${String(manifest.version)}: adapted from v${lineage.parent.version}

Made by capcheck's adaptation (id \`${lineage.adaptationId}\`, ${lineage.createdAt.toISOString()}): v${lineage.parent.version}'s
network unchanged, with a new head, a class-balanced L2-regularised logistic regression (strength
${lineage.l2}, chosen by cross-validation) fitted on its \`embedding\` output from the pictures people labelled
(${Object.entries(examples.perLabel)
    .map(([label, n]) => `${n} ${label}`)
    .join(', ')}).

It was judged first: fitted on ${examples.train} of them, it scored ${percent(metrics.candidate.accuracy)} on the other
${examples.heldOut} (held out, a quarter of each label), where v${lineage.parent.version} scored ${percent(metrics.current.accuracy)}.
The head in this file was then fitted again on all of them. That is all it was judged on: a handful of
pictures from the users' own line. Roll it out in shadow or canary mode first, and watch the agreement.

Input, preprocessing and outputs are v${lineage.parent.version}'s (see \`manifest.json\`).
`;
}

/**
 * Writes adapted versions into `folders.adapted` (a folder every replica reads), numbered after every
 * version in both folders. The version folder appears whole or not at all: files go to a temporary
 * folder first, which is renamed into place; two replicas racing for one number cannot both win the
 * rename, and the loser takes the next number.
 */
export function folderModelWriter(folders: ModelFolders): ModelWriter {
  return {
    async writeAdapted(parent: ModelManifest, head: AdaptedHead, lineage: NewVersionLineage): Promise<string> {
      const parentFolder = dirname(parent.modelPath);
      const parentManifest = JSON.parse(await readFile(join(parentFolder, 'manifest.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const onnx = withNewHead(await readFile(parent.modelPath), head, {
        output: parent.outputName,
        embedding: parent.embedding?.name ?? 'embedding',
        prefix: 'adapted_',
      });
      const staging = join(folders.adapted, parent.name, `.staging-${randomUUID()}`);
      await mkdir(staging, { recursive: true });
      try {
        for (let attempt = 0; attempt < 20; attempt++) {
          const version = String(Number(await nextVersion(folders, parent.name)) + attempt);
          if (versionExists(folders, parent.name, version)) continue;
          const manifest = adaptedManifest(parentManifest, version, onnx, lineage);
          await writeFile(join(staging, 'model.onnx'), onnx);
          await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
          await writeFile(join(staging, 'MODEL_CARD.md'), modelCard(manifest, lineage));
          try {
            await rename(staging, join(folders.adapted, parent.name, version));
            return version;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          }
        }
        throw new Error('no free version number after 20 attempts');
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    },
  };
}

/** The parent's manifest with the new file, version and lineage; calibration figures were the parent head's. */
function adaptedManifest(
  parent: Record<string, unknown>,
  version: string,
  onnx: Uint8Array,
  lineage: NewVersionLineage,
): Record<string, unknown> {
  const {
    calibration: _calibration,
    verification: _verification,
    samples: _samples,
    test_metrics: parentMetrics,
    ...kept
  } = parent;
  return {
    ...kept,
    version,
    file: 'model.onnx',
    sha256: createHash('sha256').update(onnx).digest('hex'),
    size_bytes: onnx.length,
    output: {
      ...(parent.output as Record<string, unknown>),
      description:
        'softmax probabilities in the order of `labels`, from the adapted head (logistic regression on `embedding`)',
    },
    test_metrics: {
      feedback_held_out: { count: lineage.examples.heldOut, accuracy: lineage.metrics.candidate.accuracy },
    },
    lineage: {
      parent: {
        name: parent.name,
        version: lineage.parent.version,
        sha256: parent.sha256,
        test_metrics: parentMetrics,
      },
      method:
        'class-balanced L2 logistic regression on the embedding output; strength by stratified cross-validation; ' +
        'metrics from a fit on `examples.train` judged on `examples.heldOut`, the head in the file fitted on both',
      l2: lineage.l2,
      examples: lineage.examples,
      metrics: lineage.metrics,
      adaptation_id: lineage.adaptationId,
      requested_by: lineage.requestedBy,
      created_at: lineage.createdAt.toISOString(),
    },
  };
}
