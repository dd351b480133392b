#!/usr/bin/env node
/**
 * Independent evaluation pictures: flat/vector bottle scenes written as SVG and rasterised by sharp
 * (librsvg). Shares no code with the training generators (training/generate.py, training/blender/).
 *
 *   node eval/independent/svg-bottles.mjs --out /tmp/capcheck-data/independent --count 600 --seed 7
 *   node eval/independent/svg-bottles.mjs --out /tmp/capcheck-data/line --count 240 --seed 3 --style line
 *
 * Writes OUT/{open,closed}/NNNNN.jpg and OUT/labels.jsonl (one JSON line per picture with every choice).
 * Picture `index` of `seed` depends only on (seed, index); label: even index = open, odd = closed.
 */
import sharp from 'sharp';
import { Random, labelOf, parseFlags, renderFolder } from './common.mjs';

const GLASS = {
  brown: ['#5a2e0c', '#6e3a12', '#47230a', '#7a4a1a'],
  green: ['#1d5e2a', '#2f7a3a', '#0f4420', '#4f7a26', '#2a4a2a'],
  clear: ['#d8e4e0', '#e8eef0', '#dfe6ea'],
  blue: ['#1c3c8a', '#2a5ab0', '#344e86'],
  amber: ['#8a5a10', '#a06818'],
};
const CAP_COLOURS = [
  '#c8a43c',
  '#bebec4',
  '#aa1e1e',
  '#1e3ca0',
  '#19191c',
  '#ececea',
  '#1e7832',
  '#dc7814',
  '#781e5a',
  '#966e32',
  '#d4c21a',
  '#58a8d8',
  '#f08cb0',
  '#7a7a84',
  '#4a2a10',
];
const WORDS = [
  'LAGER',
  'PILS',
  'ALE',
  'BREW',
  'CRAFT',
  'ROSSO',
  'BLANC',
  'COLA',
  'SODA',
  'LEMON',
  '1897',
  'RESERVE',
  'IPA',
  'STOUT',
  'MALT',
  'CUVÉE',
  'ORANGE',
  'TONIC',
  'WATER',
  'GOLD',
  'NORD',
  'BIO',
  'PREMIUM',
];
const KINDS = [
  ['longneck', 0.22],
  ['stubby', 0.12],
  ['wine', 0.2],
  ['pet', 0.14],
  ['jar', 0.07],
  ['swing', 0.1],
  ['flask', 0.15],
];
const CLOSURES = {
  longneck: ['crown', 'crown', 'crown', 'screw'],
  stubby: ['crown', 'crown', 'screw'],
  wine: ['stelvin', 'foil', 'foil', 'cork', 'tcork'],
  pet: ['screw', 'screw', 'sports'],
  jar: ['lid'],
  swing: ['swing'],
  flask: ['screw', 'tcork', 'cork', 'crown', 'stelvin'],
};

// ------------------------------------------------------------------------------------------------ colour
function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
function rgb(c) {
  return `rgb(${c.map((v) => Math.round(Math.max(0, Math.min(255, v)))).join(',')})`;
}
function shade(hex, f) {
  return rgb(hexToRgb(hex).map((v) => v * f));
}
function mix(hex, other, t) {
  const a = hexToRgb(hex);
  const b = hexToRgb(other);
  return rgb(a.map((v, i) => v + (b[i] - v) * t));
}
function randomColour(r) {
  return rgb([r.int(0, 255), r.int(0, 255), r.int(0, 255)]);
}
function toHex(c) {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(c);
  return m ? `#${[m[1], m[2], m[3]].map((v) => Number(v).toString(16).padStart(2, '0')).join('')}` : c;
}

class Svg {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.defs = [];
    this.body = [];
    this.ids = 0;
  }
  id(prefix) {
    return `${prefix}${this.ids++}`;
  }
  /** Horizontal cylinder shading: dark edges, a highlight at `hi` (0..1 across). */
  cylinderGradient(hex, hi = 0.3, strength = 1) {
    const id = this.id('g');
    const stops = [
      [0, shade(hex, 1 - 0.65 * strength)],
      [Math.max(0.05, hi - 0.15), shade(hex, 1 - 0.1 * strength)],
      [hi, mix(hex, '#ffffff', 0.55 * strength)],
      [Math.min(0.95, hi + 0.08), shade(hex, 1.05)],
      [0.78, shade(hex, 1 - 0.35 * strength)],
      [1, shade(hex, 1 - 0.7 * strength)],
    ];
    this.defs.push(
      `<linearGradient id="${id}" x1="0" x2="1" y1="0" y2="0">${stops
        .map(([o, c]) => `<stop offset="${o.toFixed(3)}" stop-color="${c}"/>`)
        .join('')}</linearGradient>`,
    );
    return `url(#${id})`;
  }
  linear(c1, c2, vertical = true) {
    const id = this.id('l');
    this.defs.push(
      `<linearGradient id="${id}" x1="0" y1="0" x2="${vertical ? 0 : 1}" y2="${vertical ? 1 : 0}"><stop offset="0" stop-color="${c1}"/><stop offset="1" stop-color="${c2}"/></linearGradient>`,
    );
    return `url(#${id})`;
  }
  blurFilter(sd) {
    const id = this.id('f');
    this.defs.push(
      `<filter id="${id}" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="${sd.toFixed(2)}"/></filter>`,
    );
    return `url(#${id})`;
  }
  add(element) {
    this.body.push(element);
  }
  toString() {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}"><defs>${this.defs.join('')}</defs>${this.body.join('')}</svg>`;
  }
}

const f = (v) => v.toFixed(1);

// ------------------------------------------------------------------------------------------------ bottles
/** Proportions as fractions of the bottle height. */
function bottleShape(r, kind) {
  const s = { kind };
  switch (kind) {
    case 'longneck':
      Object.assign(s, {
        bodyW: r.range(0.115, 0.135),
        bodyTop: r.range(0.5, 0.58),
        shTop: r.range(0.72, 0.8),
        neckW: r.range(0.05, 0.058),
        lipH: 0.035,
      });
      s.lipW = s.neckW + 0.011;
      break;
    case 'stubby':
      Object.assign(s, {
        bodyW: r.range(0.16, 0.19),
        bodyTop: r.range(0.55, 0.63),
        shTop: r.range(0.72, 0.8),
        neckW: r.range(0.068, 0.078),
        lipH: 0.045,
      });
      s.lipW = s.neckW + 0.013;
      break;
    case 'wine':
      Object.assign(
        s,
        r.chance(0.5)
          ? { bodyW: r.range(0.115, 0.13), bodyTop: r.range(0.6, 0.66), shTop: r.range(0.7, 0.76) }
          : { bodyW: r.range(0.12, 0.14), bodyTop: r.range(0.42, 0.5), shTop: r.range(0.74, 0.8) },
      );
      Object.assign(s, { neckW: r.range(0.046, 0.052), lipH: 0.03 });
      s.lipW = s.neckW + 0.006;
      break;
    case 'pet':
      Object.assign(s, {
        bodyW: r.range(0.13, 0.17),
        bodyTop: r.range(0.6, 0.7),
        shTop: r.range(0.8, 0.86),
        neckW: 0.05,
        lipH: 0.085,
        waist: r.chance(0.5),
      });
      s.lipW = 0.054;
      break;
    case 'jar':
      Object.assign(s, {
        bodyW: r.range(0.36, 0.45),
        bodyTop: r.range(0.78, 0.84),
        shTop: r.range(0.86, 0.9),
        lipH: 0.09,
      });
      s.neckW = s.bodyW * r.range(0.8, 0.9);
      s.lipW = s.neckW + 0.012;
      break;
    case 'swing':
      Object.assign(s, {
        bodyW: r.range(0.14, 0.16),
        bodyTop: r.range(0.5, 0.58),
        shTop: r.range(0.74, 0.8),
        neckW: 0.066,
        lipH: 0.05,
      });
      s.lipW = 0.078;
      break;
    default: // flask / spirits / juice
      Object.assign(s, {
        bodyW: r.range(0.14, 0.18),
        bodyTop: r.range(0.66, 0.74),
        shTop: r.range(0.76, 0.82),
        neckW: r.range(0.05, 0.062),
        lipH: 0.04,
      });
      s.lipW = s.neckW + 0.008;
  }
  return s;
}

function halfWidth(s, t) {
  if (t < 0.015) return s.bodyW * (0.93 + 0.07 * (t / 0.015));
  if (t < s.bodyTop) {
    if (s.waist && t > 0.3 && t < 0.5) return s.bodyW * (1 - 0.08 * Math.sin(((t - 0.3) / 0.2) * Math.PI));
    return s.bodyW;
  }
  if (t < s.shTop) {
    const u = (t - s.bodyTop) / (s.shTop - s.bodyTop);
    const e = u * u * (3 - 2 * u);
    return s.bodyW + (s.neckW - s.bodyW) * e;
  }
  if (t < 1 - s.lipH) {
    if (s.kind === 'pet' && t > 1 - s.lipH - 0.015) return 0.075; // neck support ring
    return s.neckW;
  }
  if (s.kind === 'pet' || s.kind === 'jar') {
    const k = ((1 - t) / s.lipH) * 3;
    return s.neckW + 0.004 * Math.max(0, Math.sin(k * Math.PI)); // threads
  }
  return s.lipW;
}

/** Geometry of one bottle on the picture: base centre (cx, by), height h px, view elevation e (0 side .. 0.8 above). */
function placeBottle(shape, cx, by, h, e) {
  const vh = h * Math.sqrt(1 - e * e); // foreshortening of the height seen from above
  const y = (t) => by - t * vh;
  const x = (t, side) => cx + side * halfWidth(shape, t) * h;
  return { shape, cx, by, h, e, vh, y, x, top: by - vh };
}

function bottleOutline(b, upTo = 1, inset = 1) {
  const n = 90;
  const left = [];
  const right = [];
  for (let k = 0; k <= n; k++) {
    const t = (upTo * k) / n;
    left.push(`${f(b.cx - (b.x(t, 1) - b.cx) * inset)},${f(b.y(t))}`);
    right.push(`${f(b.cx + (b.x(t, 1) - b.cx) * inset)},${f(b.y(t))}`);
  }
  const rx = b.shape.bodyW * b.h * inset;
  const ry = Math.max(0.5, rx * b.e);
  return `M${left.join(' L')} L${right.reverse().join(' L')} A${f(rx)} ${f(ry)} 0 0 1 ${left[0]} Z`;
}

function drawBottle(svg, r, b, glassHex, opts) {
  const { shape } = b;
  const clear = opts.glass === 'clear';
  const hi = r.range(0.2, 0.75);
  // liquid first: the glass is drawn over it
  if (opts.liquid) {
    const liquidHex = r.pick(['#d89018', '#5a1e08', '#6e0a14', '#f0f0c8', '#e0eeff', '#3a9a1a', '#f07010', '#140805']);
    svg.add(
      `<path d="${bottleOutline(b, opts.liquid, 0.92)}" fill="${svg.cylinderGradient(liquidHex, hi, 0.8)}" opacity="${clear ? 0.9 : 0.5}"/>`,
    );
  }
  const alpha = clear ? r.range(0.3, 0.55) : r.range(0.8, 0.95);
  svg.add(
    `<path d="${bottleOutline(b)}" fill="${svg.cylinderGradient(glassHex, hi, clear ? 1 : 0.9)}" fill-opacity="${alpha.toFixed(2)}" stroke="${shade(glassHex, 0.4)}" stroke-width="${f(Math.max(0.6, b.h * 0.003))}" stroke-opacity="${clear ? 0.8 : 0.3}"/>`,
  );
  // a specular streak along the body and neck
  const pts = [];
  for (let k = 2; k <= 40; k++) {
    const t = (k / 40) * (1 - shape.lipH - 0.01);
    pts.push(`${f(b.cx + (b.x(t, 1) - b.cx) * (hi * 2 - 1) * 0.9)},${f(b.y(t))}`);
  }
  svg.add(
    `<path d="M${pts.join(' L')}" fill="none" stroke="#ffffff" stroke-opacity="${r.range(0.15, 0.55).toFixed(2)}" stroke-width="${f(b.h * r.range(0.006, 0.02))}" stroke-linecap="round"/>`,
  );
  if (opts.label) drawLabel(svg, r, b, hi);
}

function band(b, t0, t1, w) {
  // a cylinder band seen from above: top and bottom edges are the front halves of ellipses
  const xl = b.cx - w;
  const xr = b.cx + w;
  const ry = Math.max(0.3, w * b.e);
  return `M${f(xl)},${f(b.y(t1))} A${f(w)} ${f(ry)} 0 0 0 ${f(xr)},${f(b.y(t1))} L${f(xr)},${f(b.y(t0))} A${f(w)} ${f(ry)} 0 0 1 ${f(xl)},${f(b.y(t0))} Z`;
}

function drawLabel(svg, r, b, hi) {
  const { shape } = b;
  const t0 = shape.bodyTop * r.range(0.12, 0.35);
  const t1 = shape.bodyTop * r.range(0.7, 0.97);
  const w = shape.bodyW * b.h * 1.005;
  const paper = r.pick([
    '#f2eedc',
    '#e8dcb8',
    '#fafafa',
    '#b41218',
    '#141418',
    '#1e3c8c',
    '#d8b43c',
    '#286c3a',
    toHex(randomColour(r)),
  ]);
  const ink = r.pick(['#141414', '#b41218', '#f0e0a0', '#ffffff', '#1e3c8c', toHex(randomColour(r))]);
  const clip = svg.id('c');
  svg.defs.push(`<clipPath id="${clip}"><path d="${band(b, t0, t1, w)}"/></clipPath>`);
  const parts = [`<path d="${band(b, t0, t1, w)}" fill="${paper}"/>`];
  const yTop = b.y(t1);
  const hgt = b.y(t0) - yTop;
  const style = r.int(0, 3);
  if (style === 0 || style === 3) {
    parts.push(
      `<rect x="${f(b.cx - w)}" y="${f(yTop + hgt * r.range(0.05, 0.3))}" width="${f(2 * w)}" height="${f(hgt * r.range(0.06, 0.2))}" fill="${ink}"/>`,
    );
  }
  if (style >= 1) {
    parts.push(
      `<ellipse cx="${f(b.cx)}" cy="${f(yTop + hgt * 0.4)}" rx="${f(w * r.range(0.3, 0.6))}" ry="${f(hgt * r.range(0.15, 0.3))}" fill="none" stroke="${ink}" stroke-width="${f(Math.max(1, hgt * 0.03))}"/>`,
    );
  }
  const fontSize = Math.max(5, Math.min(hgt * 0.22, (w * 2) / 5));
  parts.push(
    `<text x="${f(b.cx)}" y="${f(yTop + hgt * 0.72)}" font-family="${r.pick(['sans-serif', 'serif', 'monospace'])}" font-weight="${r.pick(['normal', 'bold'])}" font-size="${f(fontSize)}" fill="${ink}" text-anchor="middle">${r.pick(WORDS)}</text>`,
  );
  // cylinder shading over the label
  parts.push(
    `<path d="${band(b, t0, t1, w)}" fill="${svg.cylinderGradient('#808080', hi, 1)}" style="mix-blend-mode:multiply" opacity="0.55"/>`,
  );
  svg.add(`<g clip-path="url(#${clip})">${parts.join('')}</g>`);
}

function metalFill(svg, hex, hi) {
  return svg.cylinderGradient(hex, hi, 1);
}

/** Mouth of an open bottle: the lip ring seen from the camera's elevation, dark inside. */
function drawMouth(svg, r, b, glassHex) {
  const { shape } = b;
  const rx = shape.lipW * b.h;
  const ry = Math.max(0.8, rx * b.e);
  const inner = shape.kind === 'jar' ? 0.9 : shape.kind === 'pet' ? 0.72 : 0.62;
  svg.add(
    `<ellipse cx="${f(b.cx)}" cy="${f(b.top)}" rx="${f(rx)}" ry="${f(ry)}" fill="${mix(glassHex, '#ffffff', 0.35)}" stroke="${shade(glassHex, 0.5)}" stroke-width="${f(Math.max(0.6, rx * 0.05))}"/>`,
  );
  if (b.e > 0.04) {
    svg.add(
      `<ellipse cx="${f(b.cx)}" cy="${f(b.top + ry * 0.05)}" rx="${f(rx * inner)}" ry="${f(ry * inner)}" fill="${shade(glassHex, r.range(0.05, 0.3))}"/>`,
    );
  } else {
    svg.add(
      `<line x1="${f(b.cx - rx * inner)}" y1="${f(b.top)}" x2="${f(b.cx + rx * inner)}" y2="${f(b.top)}" stroke="${shade(glassHex, 0.2)}" stroke-width="${f(Math.max(0.8, rx * 0.08))}"/>`,
    );
  }
}

/** A closure drawn at (cx, yTop) for a neck/lip of half-width lipW px (used on bottles and lying loose). */
function drawClosure(svg, r, kind, cx, yTop, lipW, neckW, e, h, colour, hi) {
  const ry = (w) => Math.max(0.8, w * e);
  if (kind === 'crown') {
    const w = lipW * 1.14;
    const ch = Math.max(3, w * 0.55);
    const y0 = yTop - ch * 0.3;
    const teeth = r.int(9, 13);
    const zig = [];
    for (let k = 0; k <= teeth * 2; k++) {
      const x = cx - w * 1.04 + (2.08 * w * k) / (teeth * 2);
      zig.push(`${f(x)},${f(y0 + ch + (k % 2 ? -ch * 0.22 : 0) + ry(w) * Math.sin((Math.PI * k) / (teeth * 2)))}`);
    }
    svg.add(
      `<path d="M${f(cx - w)},${f(y0)} L${zig.join(' L')} L${f(cx + w)},${f(y0)} Z" fill="${metalFill(svg, colour, hi)}" stroke="${shade(colour, 0.45)}" stroke-width="0.6"/>`,
    );
    svg.add(
      `<ellipse cx="${f(cx)}" cy="${f(y0)}" rx="${f(w)}" ry="${f(ry(w))}" fill="${mix(colour, '#ffffff', 0.2)}" stroke="${shade(colour, 0.5)}" stroke-width="0.6"/>`,
    );
    if (e > 0.2 && r.chance(0.6)) {
      svg.add(
        `<circle cx="${f(cx)}" cy="${f(y0)}" r="${f(w * 0.4)}" transform="translate(${f(cx)} ${f(y0)}) scale(1 ${e.toFixed(3)}) translate(${f(-cx)} ${f(-y0)})" fill="${randomColour(r)}" opacity="0.8"/>`,
      );
    }
    return y0;
  }
  if (kind === 'screw' || kind === 'sports' || kind === 'lid') {
    const w = kind === 'lid' ? lipW * 1.06 : lipW * 1.2;
    const ch = kind === 'lid' ? h * r.range(0.06, 0.09) : Math.max(5, w * r.range(0.9, 1.4));
    const y0 = yTop - ch * (kind === 'lid' ? 0.35 : 0.2);
    svg.add(
      `<path d="M${f(cx - w)},${f(y0)} L${f(cx - w)},${f(y0 + ch)} A${f(w)} ${f(ry(w))} 0 0 0 ${f(cx + w)},${f(y0 + ch)} L${f(cx + w)},${f(y0)} Z" fill="${metalFill(svg, colour, hi)}"/>`,
    );
    const ridges = r.chance(0.75) ? r.int(10, 24) : 0;
    for (let k = 1; k < ridges; k++) {
      const x = cx - w * Math.cos((Math.PI * k) / ridges);
      svg.add(
        `<line x1="${f(x)}" y1="${f(y0 + ch * 0.05)}" x2="${f(x)}" y2="${f(y0 + ch * (kind === 'lid' ? 0.95 : 0.75))}" stroke="${shade(colour, 0.55)}" stroke-opacity="0.5" stroke-width="${f(Math.max(0.5, w * 0.03))}"/>`,
      );
    }
    if (kind !== 'lid') {
      svg.add(
        `<line x1="${f(cx - w)}" y1="${f(y0 + ch * 0.8)}" x2="${f(cx + w)}" y2="${f(y0 + ch * 0.8)}" stroke="${shade(colour, 0.4)}" stroke-width="${f(Math.max(0.6, ch * 0.04))}" stroke-dasharray="${f(w * 0.15)} ${f(w * 0.06)}"/>`,
      );
    }
    svg.add(
      `<ellipse cx="${f(cx)}" cy="${f(y0)}" rx="${f(w)}" ry="${f(ry(w))}" fill="${mix(colour, '#ffffff', 0.15)}" stroke="${shade(colour, 0.6)}" stroke-width="0.6"/>`,
    );
    if (kind === 'sports') {
      const sw = w * 0.45;
      const sh = ch * 0.8;
      svg.add(
        `<path d="M${f(cx - sw)},${f(y0 - sh)} L${f(cx - sw)},${f(y0)} L${f(cx + sw)},${f(y0)} L${f(cx + sw)},${f(y0 - sh)} Z" fill="${metalFill(svg, colour, hi)}"/>`,
      );
      svg.add(
        `<ellipse cx="${f(cx)}" cy="${f(y0 - sh)}" rx="${f(sw)}" ry="${f(ry(sw))}" fill="${mix(colour, '#ffffff', 0.3)}"/>`,
      );
      return y0 - sh;
    }
    if (kind === 'lid' && e > 0.2 && r.chance(0.5)) {
      svg.add(
        `<ellipse cx="${f(cx)}" cy="${f(y0)}" rx="${f(w * 0.7)}" ry="${f(ry(w) * 0.7)}" fill="${randomColour(r)}" opacity="0.7"/>`,
      );
    }
    return y0;
  }
  if (kind === 'stelvin' || kind === 'foil') {
    const w = lipW * (kind === 'stelvin' ? 1.08 : 1.04);
    const len = h * (kind === 'stelvin' ? r.range(0.13, 0.18) : r.range(0.1, 0.24));
    const y0 = yTop - w * 0.08;
    const nw = Math.max(neckW * 1.04, w * 0.9);
    svg.add(
      `<path d="M${f(cx - w)},${f(y0)} L${f(cx - w)},${f(y0 + w * 0.6)} L${f(cx - nw)},${f(y0 + w * 0.9)} L${f(cx - nw)},${f(y0 + len)} A${f(nw)} ${f(ry(nw))} 0 0 0 ${f(cx + nw)},${f(y0 + len)} L${f(cx + nw)},${f(y0 + w * 0.9)} L${f(cx + w)},${f(y0 + w * 0.6)} L${f(cx + w)},${f(y0)} Z" fill="${metalFill(svg, colour, hi)}"/>`,
    );
    if (kind === 'foil') {
      for (let k = 0; k < r.int(2, 6); k++) {
        const x = cx + r.range(-nw, nw) * 0.9;
        const y1 = y0 + len * r.range(0.3, 0.6);
        svg.add(
          `<path d="M${f(x)},${f(y1)} l${f(r.range(-2, 2))},${f(len * r.range(0.2, 0.4))}" stroke="${shade(colour, 0.5)}" stroke-opacity="0.5" stroke-width="0.8"/>`,
        );
      }
    } else {
      svg.add(
        `<line x1="${f(cx - w)}" y1="${f(y0 + w * 0.4)}" x2="${f(cx + w)}" y2="${f(y0 + w * 0.4)}" stroke="${shade(colour, 0.5)}" stroke-width="${f(Math.max(0.6, w * 0.05))}"/>`,
      );
    }
    svg.add(
      `<ellipse cx="${f(cx)}" cy="${f(y0)}" rx="${f(w)}" ry="${f(ry(w))}" fill="${mix(colour, '#ffffff', 0.25)}"/>`,
    );
    return y0;
  }
  if (kind === 'cork' || kind === 'tcork') {
    const cork = r.pick(['#b48a56', '#a07444', '#c89c64', '#8c6438']);
    const w = kind === 'cork' ? lipW * 0.72 : lipW * r.range(1.1, 1.35);
    const up = kind === 'cork' ? h * r.range(0.02, 0.07) : h * r.range(0.035, 0.06);
    const y0 = yTop - up;
    const top = kind === 'tcork' && r.chance(0.5) ? r.pick(['#141414', '#7a1a1a', '#d8d8d0', '#3a2a1a']) : cork;
    svg.add(
      `<path d="M${f(cx - w)},${f(y0)} L${f(cx - w)},${f(yTop)} A${f(w)} ${f(ry(w))} 0 0 0 ${f(cx + w)},${f(yTop)} L${f(cx + w)},${f(y0)} Z" fill="${svg.cylinderGradient(top, hi, 0.8)}"/>`,
    );
    for (let k = 0; k < 10; k++) {
      svg.add(
        `<circle cx="${f(cx + r.range(-w, w) * 0.9)}" cy="${f(r.range(y0, yTop))}" r="${f(Math.max(0.4, w * 0.05))}" fill="${shade(cork, 0.6)}" opacity="0.6"/>`,
      );
    }
    svg.add(`<ellipse cx="${f(cx)}" cy="${f(y0)}" rx="${f(w)}" ry="${f(ry(w))}" fill="${mix(top, '#ffffff', 0.15)}"/>`);
    return y0;
  }
  // swing top: a porcelain stopper on the mouth, wire bails down to a ring on the neck
  const w = lipW * 1.05;
  const stopper = r.pick(['#f4f4f0', '#e8e0d0', '#c81e1e', '#1e1e1e']);
  const sh = w * 1.1;
  const y0 = yTop - sh;
  svg.add(
    `<path d="M${f(cx - w)},${f(yTop)} C${f(cx - w)},${f(y0)} ${f(cx + w)},${f(y0)} ${f(cx + w)},${f(yTop)} Z" fill="${svg.cylinderGradient(stopper, hi, 0.6)}"/>`,
  );
  svg.add(
    `<rect x="${f(cx - w * 1.05)}" y="${f(yTop - w * 0.15)}" width="${f(w * 2.1)}" height="${f(w * 0.25)}" fill="#b43c28"/>`,
  );
  const wire = '#9a9aa0';
  const ring = yTop + h * 0.08;
  svg.add(
    `<path d="M${f(cx - w * 0.95)},${f(yTop - sh * 0.4)} L${f(cx - neckW * 1.05)},${f(ring)} M${f(cx + w * 0.95)},${f(yTop - sh * 0.4)} L${f(cx + neckW * 1.05)},${f(ring)}" stroke="${wire}" stroke-width="${f(Math.max(0.7, w * 0.06))}" fill="none"/>`,
  );
  return y0;
}

function drawOpenSwing(svg, r, b, hi) {
  // the stopper hangs open beside the neck on its wire bail
  const lw = b.shape.lipW * b.h;
  const side = r.chance(0.5) ? -1 : 1;
  const sx = b.cx + side * lw * r.range(2.4, 3.2);
  const sy = b.top + lw * r.range(0.5, 2.0);
  const stopper = r.pick(['#f4f4f0', '#e8e0d0', '#c81e1e', '#1e1e1e']);
  const ring = b.top + b.h * 0.08;
  svg.add(
    `<path d="M${f(b.cx + side * b.shape.neckW * b.h * 1.05)},${f(ring)} L${f(sx)},${f(sy)}" stroke="#9a9aa0" stroke-width="${f(Math.max(0.7, lw * 0.06))}"/>`,
  );
  svg.add(
    `<g transform="rotate(${f(side * r.range(60, 130))} ${f(sx)} ${f(sy)})"><path d="M${f(sx - lw)},${f(sy)} C${f(sx - lw)},${f(sy - lw * 1.1)} ${f(sx + lw)},${f(sy - lw * 1.1)} ${f(sx + lw)},${f(sy)} Z" fill="${svg.cylinderGradient(stopper, hi, 0.6)}"/><rect x="${f(sx - lw * 1.05)}" y="${f(sy - lw * 0.1)}" width="${f(lw * 2.1)}" height="${f(lw * 0.25)}" fill="#b43c28"/></g>`,
  );
}

/** One whole bottle with closure or open mouth. Returns its record. */
function bottle(svg, r, b, state, { detail = true, glass } = {}) {
  const glassName =
    glass ??
    r.weighted([
      ['brown', 0.3],
      ['green', 0.27],
      ['clear', 0.25],
      ['blue', 0.1],
      ['amber', 0.08],
    ]);
  const glassHex = r.pick(GLASS[glassName]);
  const liquid = detail && r.chance(0.5) ? r.range(0.25, 0.92) : 0;
  drawBottle(svg, r, b, glassHex, {
    glass: glassName,
    liquid,
    label: detail && r.chance(0.75) && b.shape.kind !== 'jar',
  });
  const hi = r.range(0.2, 0.75);
  const record = { kind: b.shape.kind, glass: glassName, closure: null };
  if (state === 'closed') {
    const kind = r.pick(CLOSURES[b.shape.kind]);
    const colour = r.pick(CAP_COLOURS);
    drawClosure(svg, r, kind, b.cx, b.top, b.shape.lipW * b.h, b.shape.neckW * b.h, b.e, b.h, colour, hi);
    record.closure = kind;
  } else {
    drawMouth(svg, r, b, glassHex);
    if (b.shape.kind === 'swing' && r.chance(0.8)) {
      drawOpenSwing(svg, r, b, hi);
      record.hangingStopper = true;
    }
    if (b.shape.kind === 'wine' && r.chance(0.3)) {
      // the cut foil band left on the neck
      const y0 = b.top + b.h * 0.03;
      const w = b.shape.neckW * b.h * 1.06;
      svg.add(
        `<rect x="${f(b.cx - w)}" y="${f(y0)}" width="${f(2 * w)}" height="${f(b.h * r.range(0.05, 0.15))}" fill="${metalFill(svg, r.pick(CAP_COLOURS), hi)}"/>`,
      );
      record.cutFoil = true;
    }
  }
  return record;
}

// ------------------------------------------------------------------------------------------------ scene
function background(svg, r, W, H, horizon) {
  const kind = r.pick(['solid', 'gradient', 'wall-table', 'wall-table', 'stripes', 'bokeh', 'tiles', 'radial']);
  const c1 = randomColour(r);
  const c2 = randomColour(r);
  if (kind === 'solid') svg.add(`<rect width="${W}" height="${H}" fill="${c1}"/>`);
  else if (kind === 'gradient')
    svg.add(`<rect width="${W}" height="${H}" fill="${svg.linear(c1, c2, r.chance(0.7))}"/>`);
  else if (kind === 'radial') {
    const id = svg.id('r');
    svg.defs.push(
      `<radialGradient id="${id}"><stop offset="0" stop-color="${c1}"/><stop offset="1" stop-color="${c2}"/></radialGradient>`,
    );
    svg.add(`<rect width="${W}" height="${H}" fill="url(#${id})"/>`);
  } else if (kind === 'stripes') {
    svg.add(`<rect width="${W}" height="${H}" fill="${c1}"/>`);
    const n = r.int(4, 20);
    const vertical = r.chance(0.5);
    for (let k = 0; k < n; k += 2) {
      const a = ((vertical ? W : H) * k) / n;
      const s = (vertical ? W : H) / n;
      svg.add(
        vertical
          ? `<rect x="${f(a)}" width="${f(s)}" height="${H}" fill="${c2}"/>`
          : `<rect y="${f(a)}" height="${f(s)}" width="${W}" fill="${c2}"/>`,
      );
    }
  } else if (kind === 'tiles') {
    svg.add(`<rect width="${W}" height="${H}" fill="${c2}"/>`);
    const s = r.range(20, 90);
    for (let y = 0; y < H; y += s)
      for (let x = 0; x < W; x += s)
        svg.add(`<rect x="${f(x + 1.5)}" y="${f(y + 1.5)}" width="${f(s - 3)}" height="${f(s - 3)}" fill="${c1}"/>`);
  } else if (kind === 'bokeh') {
    svg.add(`<rect width="${W}" height="${H}" fill="${shade(toHex(c1), 0.4)}"/>`);
    const blur = svg.blurFilter(r.range(4, 14));
    const parts = [];
    for (let k = 0; k < r.int(8, 30); k++)
      parts.push(
        `<circle cx="${f(r.range(0, W))}" cy="${f(r.range(0, H))}" r="${f(r.range(5, 60))}" fill="${randomColour(r)}" opacity="${r.range(0.2, 0.8).toFixed(2)}"/>`,
      );
    svg.add(`<g filter="${blur}">${parts.join('')}</g>`);
  }
  if (kind === 'wall-table' || r.chance(0.3)) {
    if (kind === 'wall-table')
      svg.add(`<rect width="${W}" height="${f(horizon)}" fill="${svg.linear(c1, shade(toHex(c1), 0.7))}"/>`);
    const table = r.pick(['#8a5a32', '#c8a070', '#5a3a22', '#e0e0e0', '#404040', '#d8d0c0', toHex(randomColour(r))]);
    svg.add(
      `<rect y="${f(horizon)}" width="${W}" height="${f(H - horizon)}" fill="${svg.linear(shade(table, 0.8), table)}"/>`,
    );
    if (r.chance(0.5)) {
      for (let k = 0; k < r.int(5, 25); k++) {
        const y = r.range(horizon, H);
        svg.add(
          `<path d="M0,${f(y)} Q${f(W / 2)},${f(y + r.range(-8, 8))} ${W},${f(y + r.range(-5, 5))}" stroke="${shade(table, r.range(0.6, 0.9))}" stroke-width="${f(r.range(0.5, 3))}" fill="none" opacity="0.6"/>`,
        );
      }
    } else if (r.chance(0.4)) {
      const s = r.range(20, 60);
      for (let y = horizon; y < H; y += s)
        for (let x = ((y - horizon) / s) % 2 ? 0 : s; x < W; x += 2 * s)
          svg.add(
            `<rect x="${f(x)}" y="${f(y)}" width="${f(s)}" height="${f(s)}" fill="${randomColour(r)}" opacity="0.35"/>`,
          );
    }
  }
  return kind;
}

function shadow(svg, r, b) {
  const blur = svg.blurFilter(b.h * 0.02 + 1);
  const w = b.shape.bodyW * b.h;
  svg.add(
    `<ellipse cx="${f(b.cx + r.range(-w, w))}" cy="${f(b.by)}" rx="${f(w * r.range(1.1, 2))}" ry="${f(Math.max(2, w * Math.max(0.15, b.e)))}" fill="#000000" opacity="${r.range(0.2, 0.5).toFixed(2)}" filter="${blur}"/>`,
  );
}

function looseClosure(svg, r, cx, cy, size) {
  const kind = r.pick(['crown', 'crown', 'screw', 'cork', 'lid', 'stelvin']);
  const colour = r.pick(CAP_COLOURS);
  const e = r.range(0.1, 0.9);
  if (kind === 'cork') {
    const len = size * 2.2;
    svg.add(
      `<g transform="rotate(${f(r.range(-40, 40))} ${f(cx)} ${f(cy)})"><rect x="${f(cx - len / 2)}" y="${f(cy - size * 0.5)}" width="${f(len)}" height="${f(size)}" rx="${f(size * 0.2)}" fill="${svg.cylinderGradient('#b48a56', 0.3, 0.8)}" transform="rotate(90 ${f(cx)} ${f(cy)}) rotate(-90 ${f(cx)} ${f(cy)})"/></g>`,
    );
    return kind;
  }
  const flip = r.chance(0.4)
    ? `rotate(180 ${f(cx)} ${f(cy)})`
    : r.chance(0.3)
      ? `rotate(${f(r.range(60, 110))} ${f(cx)} ${f(cy)})`
      : '';
  svg.add(`<g transform="${flip}">`);
  drawClosure(svg, r, kind, cx, cy, size, size * 0.9, e, size * 12, colour, r.range(0.2, 0.7));
  svg.add('</g>');
  return kind;
}

function occluder(svg, r, W, H, b) {
  const kind = r.pick(['hand', 'box', 'glass', 'ball']);
  const w = b.shape.bodyW * b.h * r.range(1.2, 3);
  const top = b.by - b.vh * r.range(0.1, 0.45);
  const cx = b.cx + r.range(-0.6, 0.6) * w;
  if (kind === 'hand') {
    const skin = r.pick(['#f0c8a0', '#d8a070', '#a87048', '#6a4028', '#e8b890']);
    svg.add(
      `<rect x="${f(cx - w / 2)}" y="${f(top)}" width="${f(w)}" height="${f(H - top + 10)}" rx="${f(w * 0.3)}" fill="${svg.cylinderGradient(skin, 0.4, 0.5)}"/>`,
    );
    for (let k = 0; k < 3; k++)
      svg.add(
        `<line x1="${f(cx - w / 2)}" y1="${f(top + w * (0.25 + 0.22 * k))}" x2="${f(cx + w * 0.1)}" y2="${f(top + w * (0.25 + 0.22 * k))}" stroke="${shade(skin, 0.7)}" stroke-width="1"/>`,
      );
  } else if (kind === 'box') {
    svg.add(
      `<rect x="${f(cx - w / 2)}" y="${f(top)}" width="${f(w)}" height="${f(H - top + 10)}" fill="${randomColour(r)}" stroke="#000" stroke-opacity="0.3"/>`,
    );
  } else if (kind === 'glass') {
    svg.add(
      `<rect x="${f(cx - w / 2)}" y="${f(top)}" width="${f(w)}" height="${f(H - top + 10)}" fill="${svg.cylinderGradient('#e8f0f0', 0.3, 1)}" opacity="0.45"/>`,
    );
  } else {
    svg.add(
      `<circle cx="${f(cx)}" cy="${f(top + w / 2)}" r="${f(w / 2)}" fill="${svg.cylinderGradient(toHex(randomColour(r)), 0.3, 0.8)}"/>`,
    );
  }
  return kind;
}

const ASPECTS = [
  [4, 3],
  [3, 4],
  [1, 1],
  [16, 9],
  [9, 16],
  [3, 2],
  [2, 3],
  [5, 4],
];

function generalScene(r, index) {
  const label = labelOf(index);
  const [aw, ah] = r.pick(ASPECTS);
  const long = r.int(320, 800);
  const W = aw >= ah ? long : Math.round((long * aw) / ah);
  const H = aw >= ah ? Math.round((long * ah) / aw) : long;
  const svg = new Svg(W, H);
  const e = r.weighted([
    [r.range(0, 0.12), 0.4],
    [r.range(0.12, 0.45), 0.42],
    [r.range(0.45, 0.75), 0.18],
  ]);
  const scenario = r.weighted([
    ['plain', 0.35],
    ['multi', 0.2],
    ['loose', 0.15],
    ['occluded', 0.12],
    ['closeup', 0.18],
  ]);
  const shape = bottleShape(r, r.weighted(KINDS));
  let h;
  let by;
  if (scenario === 'closeup') {
    const visible = r.range(0.25, 0.55); // this fraction of the bottle (from the top) fills the picture
    h = (H * r.range(0.75, 0.95)) / visible;
    const top = H * r.range(0.08, 0.25);
    by = top + h * Math.sqrt(1 - e * e);
  } else {
    h = H * r.range(0.5, 0.88);
    const maxW = W * 0.7;
    h = Math.min(h, maxW / (2 * shape.bodyW));
    by = H * r.range(0.88, 0.98);
    // keep the top (and its closure) well inside the picture, even after a small rotation
    h = Math.min(h, (by - H * 0.14) / Math.sqrt(1 - e * e));
  }
  const cx = W / 2 + r.range(-0.08, 0.08) * W;
  const horizon = by - h * r.range(0.1, 0.5) * Math.max(0.2, e);
  const record = { index, label, width: W, height: H, elevation: Number(e.toFixed(3)), scenario };
  record.background = background(svg, r, W, H, horizon);
  const b = placeBottle(shape, cx, by, h, e);
  if (scenario === 'multi') {
    const n = r.int(1, 3);
    for (let k = 0; k < n; k++) {
      const scale = r.range(0.5, 0.85);
      const side = k % 2 ? 1 : -1;
      const ox = cx + side * (shape.bodyW * h * r.range(2.2, 4) + k * 10);
      const ob = placeBottle(bottleShape(r, r.weighted(KINDS)), ox, by - h * r.range(0.02, 0.12), h * scale, e);
      shadow(svg, r, ob);
      bottle(svg, r, ob, r.chance(0.5) ? 'open' : 'closed', { detail: r.chance(0.5) });
    }
    record.others = n;
  }
  shadow(svg, r, b);
  if (scenario === 'loose' || r.chance(0.1)) {
    const size = shape.lipW * h * r.range(0.9, 1.3);
    const side = r.chance(0.5) ? -1 : 1;
    record.loose = looseClosure(
      svg,
      r,
      cx + side * (shape.bodyW * h + size * r.range(2, 5)),
      by - size * r.range(0, 1.5),
      size,
    );
  }
  Object.assign(record, bottle(svg, r, b, label));
  if (scenario === 'occluded') record.occluder = occluder(svg, r, W, H, b);
  record.topXY = [Number((cx / W).toFixed(4)), Number((b.top / H).toFixed(4))];
  return { svg, record };
}

/** The line's bottle: green glass, beer nearly to the neck, a fixed label, a silver crown cap when closed. */
function lineBottle(svg, r, b, state) {
  const glass = '#2f6a26';
  const hi = 0.28;
  const { shape, h } = b;
  drawBottle(svg, r, b, glass, { glass: 'green', liquid: r.range(0.78, 0.86), label: false });
  const clip = svg.id('c');
  const t0 = 0.2;
  const t1 = 0.5;
  const w = shape.bodyW * h * 1.005;
  svg.defs.push(`<clipPath id="${clip}"><path d="${band(b, t0, t1, w)}"/></clipPath>`);
  svg.add(
    `<g clip-path="url(#${clip})"><path d="${band(b, t0, t1, w)}" fill="#f3e9c6"/><rect x="${f(b.cx - w)}" y="${f(b.y(t1) + 8)}" width="${f(2 * w)}" height="14" fill="#a0181c"/><text x="${f(b.cx)}" y="${f(b.y(t0) - 20)}" font-family="serif" font-size="17" font-weight="bold" fill="#20242a" text-anchor="middle">KLOSTER</text><path d="${band(b, t0, t1, w)}" fill="${svg.cylinderGradient('#808080', hi, 1)}" opacity="0.5"/></g>`,
  );
  if (state === 'closed')
    drawClosure(svg, r, 'crown', b.cx, b.top, shape.lipW * h, shape.neckW * h, b.e, h, '#d8d8dc', hi);
  else drawMouth(svg, r, b, glass);
}

/** The "customer line": one fixed camera on a conveyor, the same bottle and cap, neighbours in a row. */
function lineScene(r, index) {
  const label = labelOf(index);
  const W = 640;
  const H = 480;
  const svg = new Svg(W, H);
  const e = 0.16 + r.range(-0.02, 0.02);
  const shape = { kind: 'line', bodyW: 0.15, bodyTop: 0.58, shTop: 0.78, neckW: 0.062, lipW: 0.072, lipH: 0.04 };
  const h = 420 + r.range(-6, 6);
  const by = 462;
  // steel back panel, conveyor rails and belt
  svg.add(`<rect width="${W}" height="${H}" fill="${svg.linear('#5c6670', '#2c3236')}"/>`);
  for (let x = 30; x < W; x += 110) svg.add(`<rect x="${x}" y="0" width="6" height="${by - 40}" fill="#4a5258"/>`);
  svg.add(`<rect y="${by - 18}" width="${W}" height="${H - by + 18}" fill="#1a1c1e"/>`);
  svg.add(`<rect y="${by - 28}" width="${W}" height="14" fill="${svg.linear('#c8ccd0', '#6a7076')}"/>`);
  const shift = r.range(-20, 20); // position along the belt when the camera triggers
  const pitch = 2 * shape.bodyW * h + 40;
  const record = { index, label, width: W, height: H, style: 'line', shift: Number(shift.toFixed(1)) };
  for (const k of [-2, -1, 1, 2]) {
    const ob = placeBottle(shape, W / 2 + shift + k * pitch, by, h, e);
    lineBottle(svg, new Random(`line-neighbour:${index}:${k}`), ob, r.chance(0.5) ? 'open' : 'closed');
  }
  const b = placeBottle(shape, W / 2 + shift, by, h, e);
  lineBottle(svg, r, b, label);
  if (label === 'closed') record.closure = 'crown';
  record.topXY = [Number((b.cx / W).toFixed(4)), Number((b.top / H).toFixed(4))];
  return { svg, record };
}

async function rasterise(r, svg, record, style) {
  let img = sharp(Buffer.from(svg.toString()));
  const line = style === 'line';
  const brightness = line ? r.range(0.9, 1.1) : r.range(0.6, 1.35);
  const saturation = line ? 1 : r.range(0.5, 1.4);
  const hue = line ? 0 : Math.round(r.range(-18, 18));
  img = img.modulate({ brightness, saturation, hue });
  let buf = await img.removeAlpha().png().toBuffer();
  img = sharp(buf);
  const angle = line ? 0 : r.chance(0.4) ? r.range(-8, 8) : 0;
  if (angle) {
    const rot = await img.rotate(angle, { background: '#808080' }).toBuffer({ resolveWithObject: true });
    // crop the middle back to the original size so no corners are blank
    const left = Math.floor((rot.info.width - svg.width) / 2);
    const top = Math.floor((rot.info.height - svg.height) / 2);
    const s = 1 + Math.abs(Math.sin((angle * Math.PI) / 180)) * 1.2;
    const cw = Math.round(svg.width / s);
    const ch = Math.round(svg.height / s);
    img = sharp(rot.data)
      .extract({
        left: left + Math.floor((svg.width - cw) / 2),
        top: top + Math.floor((svg.height - ch) / 2),
        width: cw,
        height: ch,
      })
      .resize(svg.width, svg.height);
    buf = await img.png().toBuffer();
    img = sharp(buf);
  }
  const sigma = line ? r.range(0.6, 1.2) : r.chance(0.4) ? r.range(0.4, 2.2) : 0;
  if (sigma >= 0.3) img = img.blur(sigma);
  const noise = line ? 10 : r.chance(0.6) ? r.range(3, 22) : 0;
  if (noise) {
    const n = Buffer.alloc(svg.width * svg.height * 3);
    for (let i = 0; i < n.length; i++) n[i] = Math.max(0, Math.min(255, Math.round(128 + r.normal(0, noise))));
    const base = await img.raw().toBuffer({ resolveWithObject: true });
    const px = base.data;
    for (let i = 0; i < px.length; i++) px[i] = Math.max(0, Math.min(255, px[i] + n[i] - 128));
    img = sharp(px, { raw: base.info });
  }
  const quality = line ? 80 : r.int(55, 95);
  Object.assign(record, {
    brightness: Number(brightness.toFixed(2)),
    hue,
    angle: Number(angle.toFixed(1)),
    blur: Number(sigma.toFixed(2)),
    noise: Number(noise.toFixed(1)),
    quality,
  });
  return img.jpeg({ quality }).toBuffer();
}

export async function renderPicture(seed, index, style) {
  const r = new Random(`svg:${style}:${seed}:${index}`);
  const { svg, record } = style === 'line' ? lineScene(r, index) : generalScene(r, index);
  const jpeg = await rasterise(r, svg, record, style);
  return { jpeg, record, svg: svg.toString() };
}

async function main() {
  const flags = parseFlags(process.argv.slice(2), {
    out: '',
    count: '600',
    start: '0',
    seed: '7',
    style: 'general',
    svg: 'false',
  });
  if (!flags.out) throw new Error('--out DIR is required');
  await renderFolder({
    name: 'svg',
    out: flags.out,
    start: Number(flags.start),
    count: Number(flags.count),
    seed: flags.seed,
    keepSource: flags.svg === 'true' ? 'svg' : undefined,
    render: async (index) => {
      const { jpeg, record, svg } = await renderPicture(flags.seed, index, flags.style);
      return { jpeg, record, source: svg };
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
