export {
  SeededRandom,
  DATE_FORMS,
  generateDates,
  formatDate,
  isoDate,
  randomDate,
  reversalPairs,
  type CalendarDate,
  type DatePair,
  type DateOptions,
  type ReversalOptions,
} from './dates';
