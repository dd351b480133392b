#!/usr/bin/env node
/**
 * Independent evaluation pictures, ray-traced: each picture is a POV-Ray scene (lathe bottles with
 * refracting glass, procedural pigments, area/point lights) written here and rendered by `povray`
 * (Debian package `povray`, 3.7). Shares no code with the training generators
 * (training/generate.py, training/blender/).
 *
 *   node eval/independent/povray-bottles.mjs --out /tmp/capcheck-data/independent-raytraced --count 300 --seed 11
 *
 * Writes OUT/{open,closed}/NNNNN.jpg and OUT/labels.jsonl. Picture `index` of `seed` depends only on
 * (seed, index); label: even index = open, odd = closed. Units in the scenes are centimetres, y is up.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { Random, labelOf, parseFlags, renderFolder } from './common.mjs';

const run = promisify(execFile);

const GLASS = {
  brown: [
    [0.45, 0.2, 0.05],
    [0.35, 0.15, 0.04],
  ],
  green: [
    [0.1, 0.45, 0.12],
    [0.2, 0.5, 0.15],
    [0.05, 0.3, 0.08],
  ],
  clear: [[0.97, 0.99, 0.98]],
  blue: [[0.15, 0.3, 0.75]],
};
const CAPS = [
  [0.8, 0.65, 0.2],
  [0.75, 0.75, 0.78],
  [0.7, 0.06, 0.06],
  [0.1, 0.2, 0.65],
  [0.04, 0.04, 0.04],
  [0.92, 0.92, 0.9],
  [0.08, 0.5, 0.18],
  [0.95, 0.45, 0.05],
  [0.5, 0.1, 0.4],
  [0.9, 0.85, 0.1],
  [0.4, 0.7, 0.9],
];
const CLOSURES = {
  beer: ['crown', 'crown', 'crown', 'screw'],
  wine: ['stelvin', 'foil', 'foil', 'cork', 'tcork'],
  soda: ['screw', 'screw', 'sports'],
  jar: ['lid'],
  spirits: ['tcork', 'screw', 'stelvin', 'cork'],
};

const v = (a) => `<${a.map((x) => Number(x).toFixed(4)).join(', ')}>`;
const n = (x) => Number(x).toFixed(4);

/** Bottle proportions in cm: radius profile as [r, y] from the base to the lip. */
function bottleProfile(r, kind) {
  let H, R, bodyTop, shTop, neckR, lipR, lipH, mouthR;
  if (kind === 'beer') {
    H = r.range(18, 25);
    R = r.range(2.9, 3.3);
    bodyTop = H * r.range(0.5, 0.62);
    shTop = H * r.range(0.72, 0.8);
    neckR = 1.3;
    lipR = 1.55;
    lipH = 0.7;
    mouthR = 0.95;
  } else if (kind === 'wine') {
    H = r.range(28, 32);
    R = r.range(3.6, 4);
    bodyTop = H * r.range(0.45, 0.66);
    shTop = H * r.range(0.72, 0.8);
    neckR = 1.5;
    lipR = 1.65;
    lipH = 0.9;
    mouthR = 0.95;
  } else if (kind === 'soda') {
    H = r.range(20, 30);
    R = r.range(3, 4.3);
    bodyTop = H * r.range(0.6, 0.7);
    shTop = H * r.range(0.82, 0.86);
    neckR = 1.3;
    lipR = 1.38;
    lipH = 2.0;
    mouthR = 1.1;
  } else if (kind === 'jar') {
    H = r.range(8, 14);
    R = r.range(3.5, 5);
    bodyTop = H * 0.8;
    shTop = H * 0.88;
    neckR = R * r.range(0.8, 0.9);
    lipR = neckR + 0.2;
    lipH = 1.1;
    mouthR = neckR - 0.3;
  } else {
    H = r.range(18, 26);
    R = r.range(3, 4);
    bodyTop = H * r.range(0.65, 0.75);
    shTop = H * r.range(0.77, 0.83);
    neckR = r.range(1.2, 1.5);
    lipR = neckR + 0.15;
    lipH = 0.8;
    mouthR = neckR - 0.4;
  }
  const outer = [
    [R * 0.9, 0],
    [R, 0.4],
    [R, bodyTop],
  ];
  for (let k = 1; k <= 8; k++) {
    const u = k / 8;
    const e = u * u * (3 - 2 * u);
    outer.push([R + (neckR - R) * e, bodyTop + (shTop - bodyTop) * u]);
  }
  const lipStart = H - lipH;
  if (kind === 'soda') {
    outer.push(
      [neckR, lipStart - 0.3],
      [neckR + 0.45, lipStart - 0.2],
      [neckR + 0.45, lipStart],
      [neckR, lipStart + 0.1],
    );
    for (let k = 0; k < 3; k++) {
      const y = lipStart + 0.45 + k * 0.5;
      outer.push([neckR, y], [neckR + 0.15, y + 0.15], [neckR, y + 0.3]);
    }
  } else {
    outer.push([neckR, lipStart], [lipR, lipStart + lipH * 0.2]);
  }
  outer.push([lipR, H - 0.15], [lipR - 0.15, H]);
  return { kind, H, R, bodyTop, shTop, neckR, lipR, lipH, mouthR, outer };
}

function latheOf(points) {
  return `lathe { linear_spline ${points.length}, ${points.map((p) => `<${n(p[0])}, ${n(p[1])}>`).join(', ')} }`;
}

function bottleSolid(p) {
  const wall = p.kind === 'soda' ? 0.08 : 0.3;
  const inner = [];
  for (const [rr, y] of [...p.outer].reverse()) {
    if (y >= p.H - 0.2 || y < 0.6) continue;
    const ri = y > p.shTop ? Math.min(rr - wall, p.mouthR) : rr - wall;
    if (ri > 0.1) inner.push([ri, y]);
  }
  return latheOf([[0, 0], ...p.outer, [p.mouthR, p.H - 0.05], ...inner, [0, 0.6], [0, 0]]);
}

function liquidSolid(p, level) {
  const top = 0.65 + (p.H * 0.9 - 0.65) * level;
  const pts = [[0, 0.65]];
  for (const [rr, y] of p.outer) {
    if (y > 0.65 && y < top)
      pts.push([Math.max(0.1, (y > p.shTop ? Math.min(rr - 0.3, p.mouthR) : rr - 0.3) * 0.99), y]);
  }
  const last = pts[pts.length - 1][0] || p.R - 0.3;
  pts.push([last, top], [0, top], [0, 0.65]);
  return latheOf(pts);
}

function glassMaterial(rgb, ior = 1.5) {
  return `material { texture { pigment { rgbf <${rgb.map(n).join(', ')}, 0.93> } finish { ambient 0 diffuse 0.05 specular 0.8 roughness 0.002 reflection { 0.03, 0.25 fresnel on } conserve_energy } } interior { ior ${ior} } }`;
}

function metal(rgb, r) {
  return `texture { pigment { rgb ${v(rgb)} } finish { ambient 0 diffuse 0.5 specular 0.6 roughness ${n(r.range(0.005, 0.05))} metallic reflection { ${n(r.range(0.05, 0.35))} } } }`;
}

function plastic(rgb, r) {
  return `texture { pigment { rgb ${v(rgb)} } finish { ambient 0 diffuse 0.75 specular ${n(r.range(0.2, 0.6))} roughness 0.02 } }`;
}

function capTexture(r) {
  const rgb = r.pick(CAPS);
  return r.chance(0.55) ? metal(rgb, r) : plastic(rgb, r);
}

const CORK = `texture { pigment { granite scale 0.4 color_map { [0 rgb <0.62, 0.45, 0.26>] [0.6 rgb <0.5, 0.34, 0.18>] [1 rgb <0.3, 0.18, 0.08>] } } finish { ambient 0 diffuse 0.8 } }`;

/** A closure as POV-Ray text, with its base at the origin on the lip (y = 0), plus its height above the lip. */
function closureObject(r, kind, p) {
  if (kind === 'crown') {
    const cr = p.lipR + 0.12;
    const flutes = [];
    for (let k = 0; k < 21; k++) {
      flutes.push(`cylinder { <${n(cr)}, -0.55, 0>, <${n(cr * 0.99)}, 0.05, 0>, 0.09 rotate y*${n((360 * k) / 21)} }`);
    }
    return {
      text: `union { ${latheOf([
        [0, 0.22],
        [cr * 0.92, 0.22],
        [cr, 0.1],
        [cr + 0.03, -0.4],
        [cr + 0.1, -0.6],
        [0, -0.6],
        [0, 0.22],
      ])} ${flutes.join(' ')} ${capTexture(r)} }`,
      top: 0.22,
    };
  }
  if (kind === 'screw' || kind === 'sports' || kind === 'lid') {
    const cr = kind === 'lid' ? p.lipR + 0.25 : p.lipR + 0.25;
    const y0 = kind === 'lid' ? -p.lipH - 0.05 : -Math.max(p.lipH * 0.85, 1.2);
    const h = Math.max(-y0 + 0.2, kind === 'lid' ? r.range(1.0, 1.6) : r.range(1.6, 2.2));
    const ridges = r.chance(0.7) ? `normal { radial ${n(r.range(0.4, 1))} frequency ${r.int(30, 90)} }` : '';
    const tex = capTexture(r).replace(/ }$/, ` ${ridges} }`);
    let text = `cylinder { <0, ${n(y0)}, 0>, <0, ${n(y0 + h)}, 0>, ${n(cr)} ${tex} }`;
    let top = y0 + h;
    if (kind === 'sports') {
      text = `union { ${text} cylinder { <0, ${n(top)}, 0>, <0, ${n(top + 1.4)}, 0>, ${n(cr * 0.45)} ${capTexture(r)} } }`;
      top += 1.4;
    }
    return { text, top };
  }
  if (kind === 'stelvin' || kind === 'foil') {
    const len = kind === 'stelvin' ? r.range(4.5, 6) : r.range(4, 9);
    const cr = p.lipR + 0.06;
    const tex =
      kind === 'foil'
        ? metal(r.pick(CAPS), r).replace(
            / }$/,
            ` normal { wrinkles ${n(r.range(0.3, 0.9))} scale ${n(r.range(0.2, 0.5))} } }`,
          )
        : metal(r.pick(CAPS), r);
    return {
      text: `object { ${latheOf([
        [0, 0.08],
        [cr * 0.95, 0.08],
        [cr, 0],
        [cr, -p.lipH - 0.1],
        [p.neckR + 0.06, -p.lipH - 0.4],
        [p.neckR + 0.06, -len],
        [0, -len],
        [0, 0.08],
      ])} ${tex} }`,
      top: 0.08,
    };
  }
  if (kind === 'cork') {
    const up = r.range(0.4, 2);
    return { text: `cylinder { <0, -3, 0>, <0, ${n(up)}, 0>, ${n(p.mouthR + 0.03)} ${CORK} }`, top: up };
  }
  // T-cork: a wider top on a cork shank
  const h = r.range(0.8, 1.6);
  const tr = p.lipR + r.range(0.1, 0.4);
  const top = r.chance(0.5)
    ? CORK
    : plastic(
        r.pick([
          [0.05, 0.05, 0.05],
          [0.5, 0.1, 0.1],
          [0.85, 0.85, 0.8],
          [0.35, 0.22, 0.12],
        ]),
        r,
      );
  return {
    text: `union { cylinder { <0, 0.05, 0>, <0, ${n(h)}, 0>, ${n(tr)} ${top} } cylinder { <0, -2.5, 0>, <0, 0.05, 0>, ${n(p.mouthR + 0.03)} ${CORK} } }`,
    top: h,
  };
}

function labelPigment(r) {
  const c = () => v([r.next(), r.next(), r.next()]);
  const paper = r.pick([
    '<0.95, 0.93, 0.85>',
    '<0.9, 0.85, 0.7>',
    '<0.97, 0.97, 0.97>',
    '<0.6, 0.05, 0.07>',
    '<0.03, 0.03, 0.04>',
    c(),
  ]);
  const ink = c();
  const pattern = r.pick([
    `gradient y scale ${n(r.range(1, 6))}`,
    `gradient y scale ${n(r.range(1, 6))}`,
    `bozo scale ${n(r.range(0.3, 2))}`,
    `marble turbulence 0.5 scale ${n(r.range(1, 4))}`,
    `checker scale ${n(r.range(0.3, 1))}`,
    `spotted scale ${n(r.range(0.1, 0.5))}`,
  ]);
  if (pattern.startsWith('checker')) return `pigment { checker rgb ${paper}, rgb ${ink} ${pattern.slice(8)} }`;
  return `pigment { ${pattern} color_map { [0 rgb ${paper}] [0.55 rgb ${paper}] [0.56 rgb ${ink}] [0.8 rgb ${ink}] [0.81 rgb ${paper}] [1 rgb ${paper}] } }`;
}

/** A bottle at (x, z) on the table; returns { text, p, record, top }. */
function bottleObject(r, kind, state, x, z, detail) {
  const p = bottleProfile(r, kind);
  const glassName =
    kind === 'soda'
      ? r.weighted([
          ['clear', 0.7],
          ['green', 0.15],
          ['blue', 0.15],
        ])
      : r.weighted([
          ['brown', 0.32],
          ['green', 0.3],
          ['clear', 0.25],
          ['blue', 0.13],
        ]);
  const parts = [
    `object { ${bottleSolid(p)} ${glassMaterial(r.pick(GLASS[glassName]), kind === 'soda' ? 1.4 : 1.5)} }`,
  ];
  const record = { kind, glass: glassName, closure: null, heightCm: Number(p.H.toFixed(1)) };
  if (detail && r.chance(0.5)) {
    const level = r.range(0.3, 0.95);
    const liquid = r.pick([
      [0.95, 0.6, 0.15],
      [0.5, 0.15, 0.03],
      [0.55, 0.03, 0.08],
      [0.95, 0.95, 0.85],
      [0.3, 0.7, 0.2],
    ]);
    parts.push(`object { ${liquidSolid(p, level)} ${glassMaterial(liquid, 1.33)} }`);
    record.liquid = Number(level.toFixed(2));
  }
  if (detail && kind !== 'jar' && r.chance(0.75)) {
    const y0 = p.bodyTop * r.range(0.15, 0.4);
    const y1 = p.bodyTop * r.range(0.7, 0.97);
    const clip = r.chance(0.5) ? `clipped_by { plane { z, 0 rotate y*${n(r.range(0, 360))} } }` : '';
    parts.push(
      `cylinder { <0, ${n(y0)}, 0>, <0, ${n(y1)}, 0>, ${n(p.R * 1.006)} open ${clip} texture { ${labelPigment(r)} finish { ambient 0 diffuse 0.8 specular 0.2 } } }`,
    );
    record.labelBand = true;
  }
  let top = p.H;
  if (state === 'closed') {
    const kindOf = p.kind === 'spirits' ? 'spirits' : p.kind;
    const closure = r.pick(CLOSURES[kindOf]);
    const c = closureObject(r, closure, p);
    parts.push(`object { ${c.text} translate <0, ${n(p.H)}, 0> }`);
    record.closure = closure;
    top = p.H + c.top;
  } else if (kind === 'wine' && detail && r.chance(0.3)) {
    const y1 = p.H - p.lipH - 0.2;
    parts.push(
      `cylinder { <0, ${n(y1 - r.range(1.5, 4))}, 0>, <0, ${n(y1)}, 0>, ${n(p.neckR + 0.05)} open ${metal(r.pick(CAPS), r)} }`,
    );
    record.cutFoil = true;
  }
  return { text: `union { ${parts.join('\n  ')} translate <${n(x)}, 0, ${n(z)}> }`, p, record, top };
}

function tablePigment(r) {
  const c = () => v([r.next(), r.next(), r.next()]);
  return r.pick([
    `pigment { wood turbulence 0.1 color_map { [0 rgb <0.55, 0.35, 0.18>] [1 rgb <0.35, 0.2, 0.08>] } scale ${n(r.range(2, 6))} rotate <90, ${n(r.range(0, 180))}, 0> }`,
    `pigment { checker rgb ${c()}, rgb ${c()} scale ${n(r.range(2, 10))} }`,
    `pigment { marble turbulence 1 color_map { [0 rgb <0.9, 0.9, 0.88>] [0.8 rgb <0.8, 0.8, 0.8>] [1 rgb <0.3, 0.3, 0.35>] } scale ${n(r.range(5, 20))} }`,
    `pigment { granite color_map { [0 rgb ${c()}] [1 rgb ${c()}] } scale ${n(r.range(5, 30))} }`,
    `pigment { rgb ${c()} }`,
    `pigment { rgb ${c()} }`,
    `pigment { brick rgb <0.8, 0.8, 0.8>, rgb ${c()} brick_size <${n(r.range(5, 20))}, 5, ${n(r.range(5, 20))}> mortar 0.4 }`,
  ]);
}

/**
 * Where a point of the scene lands in the picture, as shares of its width and height (x right, y down),
 * for POV-Ray's perspective camera with `look_at`, sky y, `right x*aspect`, `up y` and a horizontal `angle`
 * (left-handed: right = sky × direction, up = direction × right).
 */
function projectToPicture(point, cam, lookAt, fovHDeg, aspect) {
  const sub = (a, b) => a.map((c, i) => c - b[i]);
  const dot = (a, b) => a.reduce((sum, c, i) => sum + c * b[i], 0);
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const unit = (a) => a.map((c) => c / Math.hypot(...a));
  const direction = unit(sub(lookAt, cam));
  const right = unit(cross([0, 1, 0], direction));
  const up = cross(direction, right);
  const seen = sub(point, cam);
  const depth = dot(seen, direction);
  const halfWidth = depth * Math.tan((fovHDeg * Math.PI) / 360);
  const x = dot(seen, right) / halfWidth;
  const y = (dot(seen, up) / halfWidth) * aspect;
  return [(x + 1) / 2, (1 - y) / 2];
}

function scene(r, index, W, H) {
  const label = labelOf(index);
  const kind = r.weighted([
    ['beer', 0.35],
    ['wine', 0.25],
    ['soda', 0.17],
    ['jar', 0.08],
    ['spirits', 0.15],
  ]);
  const main = bottleObject(r, kind, label, 0, 0, true);
  const { p } = main;
  const view = r.weighted([
    ['side', 0.35],
    ['above', 0.4],
    ['high', 0.1],
    ['closeup', 0.15],
  ]);
  const el = { side: r.range(-3, 12), above: r.range(12, 45), high: r.range(45, 75), closeup: r.range(0, 50) }[view];
  const az = r.range(0, 360);
  const fovH = r.range(25, 60);
  const vfov = 2 * Math.atan(Math.tan((fovH * Math.PI) / 360) * (H / W));
  const elr = (el * Math.PI) / 180;
  let extent;
  let lookY;
  if (view === 'closeup') {
    extent = main.top * r.range(0.3, 0.5);
    lookY = main.top - extent * r.range(0.3, 0.45);
  } else {
    extent = main.top * Math.cos(elr) + 2 * p.R * Math.sin(elr) + 1;
    lookY = el > 45 ? main.top * r.range(0.7, 0.95) : main.top * r.range(0.45, 0.6);
  }
  const fill = r.range(0.55, 0.9);
  const dist = Math.max(p.R * 3 + 2, extent / fill / (2 * Math.tan(vfov / 2)));
  const azr = (az * Math.PI) / 180;
  const cam = [
    dist * Math.cos(elr) * Math.sin(azr),
    Math.max(0.5, lookY + dist * Math.sin(elr)),
    -dist * Math.cos(elr) * Math.cos(azr),
  ];
  const lookAt = [r.range(-0.3, 0.3) * p.R, lookY, r.range(-0.3, 0.3) * p.R];
  const topXY = projectToPicture([0, main.top, 0], cam, lookAt, fovH, W / H);
  // horizontal unit vectors (x, z): away from the camera, and across the view
  const away = [-Math.sin(azr), Math.cos(azr)];
  const across = [Math.cos(azr), Math.sin(azr)];
  const objects = [main.text];
  const record = {
    index,
    label,
    width: W,
    height: H,
    view,
    elevationDeg: Number(el.toFixed(1)),
    fovDeg: Number(fovH.toFixed(1)),
    topXY: topXY.map((c) => Number(c.toFixed(4))),
    ...main.record,
  };
  if (r.chance(0.3)) {
    const count = r.int(1, 2);
    for (let k = 0; k < count; k++) {
      const back = r.range(6, 30);
      const side = (k % 2 ? 1 : -1) * r.range(p.R * 2 + 4, 20);
      const bx = away[0] * back + across[0] * side;
      const bz = away[1] * back + across[1] * side;
      const other = bottleObject(
        r,
        r.pick(['beer', 'wine', 'soda', 'spirits']),
        r.chance(0.5) ? 'open' : 'closed',
        bx,
        bz,
        false,
      );
      if (other.top <= main.top * 1.02) objects.push(other.text);
    }
    record.others = count;
  }
  if (r.chance(0.3)) {
    const loose = r.pick(['crown', 'crown', 'screw', 'cork', 'lid', 'stelvin']);
    const lp = bottleProfile(r, { crown: 'beer', screw: 'soda', cork: 'wine', lid: 'jar', stelvin: 'wine' }[loose]);
    const c = closureObject(r, loose, lp);
    const a = r.range(0, 360);
    const d = p.R + r.range(2, 7);
    const pose =
      loose === 'cork' || r.chance(0.3)
        ? `rotate x*90 translate y*${n(lp.mouthR + 0.05)}`
        : r.chance(0.5)
          ? `rotate x*180 translate y*${n(c.top)}`
          : `translate y*${n(loose === 'crown' ? 0.6 : 2)}`;
    objects.push(
      `object { ${c.text} ${pose} rotate y*${n(a)} translate <${n(d * Math.cos(a))}, 0, ${n(d * Math.sin(a))}> }`,
    );
    record.loose = loose;
  }
  if (r.chance(0.15)) {
    const h = p.H * r.range(0.2, 0.45);
    const d = Math.min(dist * 0.5, r.range(6, 15));
    const ox = -away[0] * d + across[0] * r.range(-3, 3);
    const oz = -away[1] * d + across[1] * r.range(-3, 3);
    objects.push(
      r.chance(0.5)
        ? `box { <-3, 0, -3>, <3, ${n(h)}, 3> rotate y*${n(r.range(0, 90))} translate <${n(ox)}, 0, ${n(oz)}> texture { pigment { rgb ${v([r.next(), r.next(), r.next()])} } finish { diffuse 0.8 } } }`
        : `sphere { <${n(ox)}, ${n(h / 2)}, ${n(oz)}>, ${n(h / 2)} texture { pigment { rgb ${v([r.next(), r.next(), r.next()])} } finish { diffuse 0.7 specular 0.4 } } }`,
    );
    record.occluder = true;
  }
  const lights = [];
  const nLights = r.int(1, 3);
  for (let k = 0; k < nLights; k++) {
    const la = (r.range(0, 360) * Math.PI) / 180;
    const le = (r.range(15, 75) * Math.PI) / 180;
    const ld = r.range(60, 200);
    const pos = [ld * Math.cos(le) * Math.sin(la), ld * Math.sin(le), -ld * Math.cos(le) * Math.cos(la)];
    const warm = r.range(-0.2, 0.2);
    const power = r.range(0.5, 1.3) / Math.sqrt(nLights);
    const colour = v([power * (1 + warm), power, power * (1 - warm)]);
    const area =
      k === 0 && r.chance(0.5)
        ? `area_light <${n(r.range(10, 40))}, 0, 0>, <0, 0, ${n(r.range(10, 40))}>, 3, 3 adaptive 0 jitter circular orient`
        : '';
    lights.push(`light_source { ${v(pos)} color rgb ${colour} ${area} }`);
  }
  const sky1 = v([r.next(), r.next(), r.next()]);
  const sky2 = v([r.next(), r.next(), r.next()]);
  const wallAz = azr + r.range(-0.4, 0.4);
  const wall = r.chance(0.65)
    ? `plane { <${n(-Math.sin(wallAz))}, 0, ${n(Math.cos(wallAz))}>, ${n(r.range(15, 80))} texture { ${tablePigment(r)} finish { ambient 0.1 diffuse 0.8 } } }`
    : '';
  const ambient = r.range(0.1, 0.5);
  const text = `#version 3.7;
global_settings { assumed_gamma 1.0 max_trace_level 12 ambient_light rgb <1, 1, 1> }
camera { perspective location ${v(cam)} look_at ${v(lookAt)} right x*${n(W / H)} up y angle ${n(fovH)} rotate <0, 0, 0> }
sky_sphere { pigment { gradient y color_map { [0 rgb ${sky1}] [1 rgb ${sky2}] } } }
${lights.join('\n')}
light_source { ${v([cam[0], cam[1] + 30, cam[2]])} color rgb ${n(ambient)} shadowless }
plane { y, 0 texture { ${tablePigment(r)} finish { ambient 0.05 diffuse 0.75 specular 0.1 reflection ${n(r.range(0, 0.12))} } } }
${wall}
${objects.join('\n')}
`;
  return { text, record };
}

async function renderPicture(seed, index, workDir) {
  const r = new Random(`pov:${seed}:${index}`);
  const [aw, ah] = r.pick([
    [4, 3],
    [3, 4],
    [1, 1],
    [3, 2],
    [2, 3],
    [16, 9],
  ]);
  const long = r.int(320, 800);
  const outW = aw >= ah ? long : Math.round((long * aw) / ah);
  const outH = aw >= ah ? Math.round((long * ah) / aw) : long;
  // render at most 480 px on the long side (ray tracing is the slow part), then scale to the output size
  const s = Math.min(1, 480 / long);
  const W = Math.round(outW * s);
  const H = Math.round(outH * s);
  const { text, record } = scene(r, index, W, H);
  const pov = path.join(workDir, `s${index}.pov`);
  const png = path.join(workDir, `s${index}.png`);
  fs.writeFileSync(pov, text);
  const t0 = Date.now();
  await run(
    'povray',
    [`+I${pov}`, `+O${png}`, `+W${W}`, `+H${H}`, '+FN', '+A0.2', '+R2', '-D', '-V', '+Q9', '-GA', '+WT1'],
    {
      timeout: 1_800_000, // a contended machine can be very slow; a stuck render still ends
    },
  );
  record.renderSeconds = Number(((Date.now() - t0) / 1000).toFixed(1));
  let img = sharp(png).resize(outW, outH);
  const sigma = r.chance(0.3) ? r.range(0.4, 1.5) : 0;
  if (sigma) img = img.blur(sigma);
  const quality = r.int(60, 95);
  const jpeg = await img
    .modulate({ brightness: r.range(0.8, 1.2) })
    .jpeg({ quality })
    .toBuffer();
  fs.rmSync(png, { force: true });
  Object.assign(record, { width: outW, height: outH, renderedAt: [W, H], blur: Number(sigma.toFixed(2)), quality });
  return { jpeg, record, pov: text };
}

async function main() {
  const flags = parseFlags(process.argv.slice(2), { out: '', count: '300', start: '0', seed: '11', keep: 'false' });
  if (!flags.out) throw new Error('--out DIR is required');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'povray-bottles-'));
  try {
    await renderFolder({
      name: 'povray',
      out: flags.out,
      start: Number(flags.start),
      count: Number(flags.count),
      seed: flags.seed,
      keepSource: flags.keep === 'true' ? 'pov' : undefined,
      render: async (index) => {
        const { jpeg, record, pov } = await renderPicture(flags.seed, index, workDir);
        return { jpeg, record, source: pov };
      },
    });
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stderr ?? '', err);
  process.exit(1);
});
