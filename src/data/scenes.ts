// Synthetic scenes for contrastive image–text learning: two coloured shapes side by side on a dark
// background, with captions that name both and their relation ("a red circle left of a blue
// square"). A caption with the colours swapped, or with the relation reversed, names the same words
// in another order and describes another scene: a model that ranks the true caption above those
// two reads word order, not a bag of words. Seeded: one seed gives the same scenes everywhere.
import { checkInt, checkOptions, optInt, optSeed } from '../args';
import { SeededRandom } from './dates';

export const SCENE_SHAPES = ['circle', 'square', 'triangle'] as const;
export const SCENE_COLOURS = ['red', 'green', 'blue', 'yellow'] as const;
export type SceneShape = (typeof SCENE_SHAPES)[number];
export type SceneColour = (typeof SCENE_COLOURS)[number];

export interface SceneObject {
  shape: SceneShape;
  colour: SceneColour;
}

export interface Scene {
  /** The object on the left and the one on the right (never of one colour). */
  left: SceneObject;
  right: SceneObject;
  /** A true caption: "a red circle left of a blue square" or, as often, "a blue square right of a red circle". */
  caption: string;
  /** The caption's words with the two colours exchanged (false for this scene). */
  colourSwapped: string;
  /** The caption with the relation reversed (false for this scene). */
  relationSwapped: string;
}

export interface SceneOptions {
  /** Image side in pixels (default 32, at least 24). */
  size?: number;
  seed?: number;
}

export interface Scenes {
  /** n × 3 × size × size RGB values in [0, 1], row-major (NCHW). */
  images: Float32Array;
  scenes: Scene[];
  size: number;
}

const RGB: Record<SceneColour, [number, number, number]> = {
  red: [0.95, 0.1, 0.1],
  green: [0.1, 0.85, 0.15],
  blue: [0.15, 0.3, 1],
  yellow: [0.95, 0.9, 0.1],
};

const name = (o: SceneObject) => `${o.colour} ${o.shape}`;

/** Whether pixel (x, y) lies inside a shape of radius r centred at (cx, cy). */
function inside(shape: SceneShape, x: number, y: number, cx: number, cy: number, r: number): boolean {
  const dx = x - cx, dy = y - cy;
  if (shape === 'circle') return dx * dx + dy * dy <= r * r;
  if (shape === 'square') return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
  // An upward triangle: apex at the top, base at the bottom.
  return dy <= r && dy >= -r && Math.abs(dx) <= ((dy + r) / (2 * r)) * r;
}

function caption(left: SceneObject, right: SceneObject, leftFirst: boolean): string {
  return leftFirst ? `a ${name(left)} left of a ${name(right)}` : `a ${name(right)} right of a ${name(left)}`;
}

/** n seeded scenes and their captions (see the file's comment). */
export function shapeScenes(n: number, options: SceneOptions = {}): Scenes {
  const op = 'data.shapeScenes';
  checkInt(op, 'n', n, { min: 1, max: 1e6 });
  const o = checkOptions(op, options);
  const size = optInt(op, o, 'size', { min: 24, max: 512 }) ?? 32;
  const rng = new SeededRandom(optSeed(op, o) ?? 0);
  const images = new Float32Array(n * 3 * size * size);
  const scenes: Scene[] = [];
  const plane = size * size;
  for (let i = 0; i < n; i++) {
    const left: SceneObject = { shape: rng.pick(SCENE_SHAPES), colour: rng.pick(SCENE_COLOURS) };
    let colour = rng.pick(SCENE_COLOURS);
    while (colour === left.colour) colour = rng.pick(SCENE_COLOURS);
    const right: SceneObject = { shape: rng.pick(SCENE_SHAPES), colour };
    const leftFirst = rng.next() < 0.5;
    scenes.push({
      left,
      right,
      caption: caption(left, right, leftFirst),
      colourSwapped: caption({ ...left, colour: right.colour }, { ...right, colour: left.colour }, leftFirst),
      relationSwapped: caption(right, left, leftFirst),
    });
    const base = i * 3 * plane;
    for (let k = 0; k < 3 * plane; k++) images[base + k] = 0.1 * rng.next();  // a little background noise
    const s = size / 32;
    for (const [obj, x0] of [[left, 4], [right, 19]] as [SceneObject, number][]) {
      const r = (3.5 + 1.5 * rng.next()) * s;
      const cx = (x0 + r / s + rng.next() * (13 - 2 * r / s)) * s, cy = (6 + r / s + rng.next() * (20 - 2 * r / s)) * s;
      const tint = RGB[obj.colour].map((c) => Math.min(1, Math.max(0, c + 0.1 * (rng.next() - 0.5))));
      for (let y = Math.max(0, Math.floor(cy - r - 1)); y <= Math.min(size - 1, Math.ceil(cy + r + 1)); y++)
        for (let x = Math.max(0, Math.floor(cx - r - 1)); x <= Math.min(size - 1, Math.ceil(cx + r + 1)); x++)
          if (inside(obj.shape, x + 0.5, y + 0.5, cx, cy, r)) for (let c = 0; c < 3; c++) images[base + c * plane + y * size + x] = tint[c];
    }
  }
  return { images, scenes, size };
}
