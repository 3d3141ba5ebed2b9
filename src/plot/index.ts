export { attention, type AttentionPlotOptions } from './attention';
export { similarity, type SimilarityPlotOptions } from './similarity';
export { confusion, confusionMatrix, type ConfusionPlotOptions } from './confusion';
export type { HeatmapOptions } from './heatmap';
export { lossCurve, type LossCurveOptions } from './loss-curve';
