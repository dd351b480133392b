/** Labelled feature vectors: `rows` vectors of `dims` values, row-major; `labels[i]` is 0 or 1. */
export interface HeadTrainingSet {
  features: Float32Array;
  rows: number;
  dims: number;
  labels: Uint8Array;
}

/**
 * A logistic regression on raw features: p(label 1 | x) = sigmoid(weights · x + bias). The features'
 * standardisation is folded into the weights, so the head is one matrix product in the graph.
 */
export interface LinearHead {
  weights: Float32Array;
  bias: number;
  /** The L2 strength cross-validation chose (on standardised features). */
  l2: number;
}

/**
 * Fits a class-balanced, L2-regularised logistic regression; the strength is chosen from a small grid
 * by stratified k-fold cross-validation on balanced log-loss. Features are standardised first, so one
 * grid suits any backbone.
 *
 * Self-contained (no imports, no closures, plain loops) on purpose: the fit runs in a worker thread
 * whose source is this function's text, so it never blocks the event loop and needs no build step.
 */
export function fitLinearHead(set: HeadTrainingSet): LinearHead {
  const { rows, dims, labels } = set;
  /** Gradient steps per strength along the path. */
  const iterations = 250;
  const mean = new Float64Array(dims);
  const scale = new Float64Array(dims);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dims; j++) mean[j]! += set.features[i * dims + j]! / rows;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dims; j++) {
      const d = set.features[i * dims + j]! - mean[j]!;
      scale[j]! += (d * d) / rows;
    }
  }
  for (let j = 0; j < dims; j++) scale[j] = Math.sqrt(scale[j]!) || 1;
  const x = new Float64Array(rows * dims);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dims; j++) x[i * dims + j] = (set.features[i * dims + j]! - mean[j]!) / scale[j]!;
  }
  const positives = labels.reduce((n, y) => n + y, 0);
  // Each class weighs half of the loss, whatever its count: a line with few open bottles still learns them.
  const classWeight = [rows / (2 * (rows - positives)), rows / (2 * positives)];

  /**
   * Minimises the weighted mean log-loss + l2/2 |w|^2 over `members` by accelerated gradient descent,
   * from `start` (the solution for a stronger l2: warm starts make each step of the path short).
   */
  const train = (members: number[], l2: number, start?: Float64Array): Float64Array => {
    let normSum = 0;
    let weightSum = 0;
    for (let m = 0; m < members.length; m++) {
      const i = members[m]!;
      let norm = 1;
      for (let j = 0; j < dims; j++) norm += x[i * dims + j]! ** 2;
      normSum += classWeight[labels[i]!]! * norm;
      weightSum += classWeight[labels[i]!]!;
    }
    const step = 1 / (normSum / weightSum / 4 + l2); // 1 / Lipschitz bound of the gradient
    const beta = start ? Float64Array.from(start) : new Float64Array(dims + 1); // [bias, w...]
    const previous = new Float64Array(dims + 1);
    const ahead = Float64Array.from(beta);
    const gradient = new Float64Array(dims + 1);
    for (let iteration = 1; iteration <= iterations; iteration++) {
      gradient.fill(0);
      for (let m = 0; m < members.length; m++) {
        const i = members[m]!;
        let z = ahead[0]!;
        for (let j = 0; j < dims; j++) z += ahead[j + 1]! * x[i * dims + j]!;
        const error = (classWeight[labels[i]!]! * (1 / (1 + Math.exp(-z)) - labels[i]!)) / weightSum;
        gradient[0]! += error;
        for (let j = 0; j < dims; j++) gradient[j + 1]! += error * x[i * dims + j]!;
      }
      for (let j = 1; j <= dims; j++) gradient[j]! += l2 * ahead[j]!;
      previous.set(beta);
      for (let j = 0; j <= dims; j++) beta[j] = ahead[j]! - step * gradient[j]!;
      const momentum = (iteration - 1) / (iteration + 2);
      for (let j = 0; j <= dims; j++) ahead[j] = beta[j]! + momentum * (beta[j]! - previous[j]!);
    }
    return beta;
  };
  const balancedLogLoss = (beta: Float64Array, members: number[]): number => {
    let loss = 0;
    let weightSum = 0;
    for (let m = 0; m < members.length; m++) {
      const i = members[m]!;
      let z = beta[0]!;
      for (let j = 0; j < dims; j++) z += beta[j + 1]! * x[i * dims + j]!;
      const p = Math.min(Math.max(1 / (1 + Math.exp(-z)), 1e-7), 1 - 1e-7);
      loss -= classWeight[labels[i]!]! * (labels[i] ? Math.log(p) : Math.log(1 - p));
      weightSum += classWeight[labels[i]!]!;
    }
    return loss / weightSum;
  };

  // Stratified folds: the members of each class dealt round-robin.
  const folds = Math.max(2, Math.min(3, positives, rows - positives));
  const foldOf = new Int32Array(rows);
  const dealt = [0, 0];
  for (let i = 0; i < rows; i++) foldOf[i] = dealt[labels[i]!]!++ % folds;
  // Strongest first, each fit starting from the previous one's solution.
  const grid = [1, 0.1, 0.01, 0.001];
  const losses = new Float64Array(grid.length);
  for (let f = 0; f < folds; f++) {
    const fit: number[] = [];
    const check: number[] = [];
    for (let i = 0; i < rows; i++) (foldOf[i] === f ? check : fit).push(i);
    let previousFit: Float64Array | undefined;
    for (let g = 0; g < grid.length; g++) {
      previousFit = train(fit, grid[g]!, previousFit);
      losses[g]! += balancedLogLoss(previousFit, check) / folds;
    }
  }
  let bestIndex = 0;
  for (let g = 1; g < grid.length; g++) if (losses[g]! < losses[bestIndex]!) bestIndex = g;
  const everyone: number[] = [];
  for (let i = 0; i < rows; i++) everyone.push(i);
  let beta: Float64Array | undefined;
  for (let g = 0; g <= bestIndex; g++) beta = train(everyone, grid[g]!, beta);
  const best = { l2: grid[bestIndex]! };
  const weights = new Float32Array(dims);
  let bias = beta![0]!;
  for (let j = 0; j < dims; j++) {
    weights[j] = beta![j + 1]! / scale[j]!;
    bias -= (beta![j + 1]! * mean[j]!) / scale[j]!;
  }
  return { weights, bias, l2: best.l2 };
}

/** p(label 1) for one feature vector. */
export function headProbability(head: LinearHead, features: ArrayLike<number>): number {
  let z = head.bias;
  for (let j = 0; j < head.weights.length; j++) z += head.weights[j]! * features[j]!;
  return 1 / (1 + Math.exp(-z));
}
