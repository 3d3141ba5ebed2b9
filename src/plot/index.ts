export { attention, type AttentionPlotOptions } from './attention';
