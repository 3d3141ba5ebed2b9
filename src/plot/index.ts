export { attention, type AttentionPlotOptions } from './attention';
export { lossCurve, type LossCurveOptions } from './loss-curve';
