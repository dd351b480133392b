"""Photo-like bottle pictures for the bottle-state classifier, path-traced with Blender Cycles (CPU).

Run inside Blender (Debian's ``blender`` package, 3.4):

    nice -n 19 blender -b -noaudio --python training/blender/render_bottles.py -- \
        --out /tmp/blender --count 200 --seed 1 --size 192

Writes ``OUT/{closed,open}/NNNNN.jpg`` (picture ``i`` has label ``LABELS[i % 2]``, so any prefix is
balanced) and appends one JSON line per picture to ``OUT/labels.jsonl`` (every random choice, the
projected position of the labelled bottle's top, render seconds). Picture ``i`` of seed ``S`` draws
all its choices from ``random.Random(f"{S}:{i}")``, so output is deterministic and any range can be
rendered on its own (``--start``); pictures already on disk are skipped, so a stopped run resumes.

One Blender process renders many pictures: the scene is emptied and rebuilt for each picture.
Everything is procedural (no downloaded assets): bottles are profiles revolved around the vertical
axis (long-neck beer, stubby, wine, PET soda, jars), glass is a Principled BSDF with transmission,
labels, tables and walls use Blender's procedural textures. The label refers to the centred, largest
bottle; the others, loose caps and corks on the table, and occluders are distractors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import bmesh
import bpy
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Quaternion, Vector

LABELS = ("closed", "open")
TAU = 2 * math.pi

# Closures that fit each bottle kind (CLOSED pictures pick one of these).
CLOSURES = {
    "longneck": ["crown", "crown", "crown", "screw"],
    "stubby": ["crown", "crown", "screw"],
    "wine": ["stelvin", "foil", "foil", "cork", "cork_t"],
    "pet": ["screw", "screw", "sports"],
    "jar": ["lid"],
    "flask": ["screw", "cork", "stelvin", "crown"],
}
KIND_P = [("longneck", 0.27), ("stubby", 0.15), ("wine", 0.23), ("pet", 0.17), ("jar", 0.08), ("flask", 0.10)]

GLASS = {
    "brown": [(0.30, 0.12, 0.03), (0.22, 0.08, 0.02), (0.40, 0.18, 0.05)],
    "green": [(0.06, 0.32, 0.08), (0.12, 0.40, 0.10), (0.03, 0.20, 0.05), (0.25, 0.45, 0.15)],
    "clear": [(0.95, 0.97, 0.96), (0.90, 0.95, 0.97), (0.97, 0.97, 0.92)],
    "blue": [(0.05, 0.15, 0.55), (0.10, 0.25, 0.60), (0.15, 0.35, 0.70)],
}
GLASS_P = [("brown", 0.32), ("green", 0.28), ("clear", 0.26), ("blue", 0.14)]

CAP_COLOURS = [
    (0.80, 0.65, 0.20), (0.75, 0.75, 0.78), (0.65, 0.06, 0.06), (0.08, 0.18, 0.60), (0.03, 0.03, 0.035),
    (0.92, 0.92, 0.90), (0.08, 0.45, 0.15), (0.90, 0.40, 0.05), (0.45, 0.08, 0.35), (0.55, 0.40, 0.18),
    (0.30, 0.15, 0.05), (0.85, 0.80, 0.10), (0.35, 0.65, 0.85), (0.95, 0.55, 0.65), (0.50, 0.50, 0.55),
]
LIQUIDS = [(0.85, 0.55, 0.10), (0.35, 0.12, 0.03), (0.45, 0.02, 0.06), (0.95, 0.95, 0.80), (0.9, 0.95, 1.0),
           (0.2, 0.6, 0.1), (0.95, 0.45, 0.05), (0.08, 0.03, 0.02)]


def weighted(rng: random.Random, pairs):
    x = rng.random() * sum(p for _, p in pairs)
    for value, p in pairs:
        x -= p
        if x <= 0:
            return value
    return pairs[-1][0]


def jitter(rng: random.Random, colour, amount=0.08):
    return tuple(min(1.0, max(0.0, c + rng.uniform(-amount, amount))) for c in colour)


# ---------------------------------------------------------------------------------------------- scene
def clear_scene() -> None:
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.lights,
                       bpy.data.cameras, bpy.data.images, bpy.data.node_groups, bpy.data.textures,
                       bpy.data.worlds):
        for block in list(collection):
            collection.remove(block)


def revolve(name: str, profile, segments: int = 48, mod=None, smooth=True):
    """Mesh of revolution. ``profile``: (r, z) points; r == 0 becomes a single pole vertex.
    ``mod(k, theta)``: optional radius factor of profile point ``k`` at angle ``theta`` (crimps, ridges)."""
    bm = bmesh.new()
    rings = []
    for k, (r, z) in enumerate(profile):
        if r <= 1e-6:
            rings.append([bm.verts.new((0.0, 0.0, z))])
            continue
        ring = []
        for s in range(segments):
            t = TAU * s / segments
            rr = r * (mod(k, t) if mod else 1.0)
            ring.append(bm.verts.new((rr * math.cos(t), rr * math.sin(t), z)))
        rings.append(ring)
    for a, b in zip(rings, rings[1:]):
        if len(a) == 1 and len(b) == 1:
            continue
        for s in range(segments):
            s2 = (s + 1) % segments
            if len(a) == 1:
                bm.faces.new((a[0], b[s], b[s2]))
            elif len(b) == 1:
                bm.faces.new((a[s], b[0], a[s2]))
            else:
                bm.faces.new((a[s], b[s], b[s2], a[s2]))
    bmesh.ops.remove_doubles(bm, verts=bm.verts, dist=1e-7)
    bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    if smooth:
        mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def tube(name: str, r: float, z0: float, z1: float, a0: float = 0.0, a1: float = TAU, segments: int = 48):
    """An open cylinder band (labels) with UVs running around (u) and up (v)."""
    closed = a1 - a0 >= TAU - 1e-6
    n = segments if closed else max(4, int(segments * (a1 - a0) / TAU)) + 1
    verts, faces, uvs = [], [], []
    for s in range(n):
        t = a0 + (a1 - a0) * s / (segments if closed else n - 1)
        verts.append((r * math.cos(t), r * math.sin(t), z0))
        verts.append((r * math.cos(t), r * math.sin(t), z1))
    last = n if closed else n - 1
    for s in range(last):
        s2 = (s + 1) % n
        faces.append((2 * s, 2 * s2, 2 * s2 + 1, 2 * s + 1))
        u0, u1 = s / last, (s + 1) / last
        uvs.append([(u0, 0), (u1, 0), (u1, 1), (u0, 1)])
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    uv = mesh.uv_layers.new(name="UVMap")
    for poly, quad in zip(mesh.polygons, uvs):
        for li, xy in zip(poly.loop_indices, quad):
            uv.data[li].uv = xy
    mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def material(name: str):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    bsdf = nodes["Principled BSDF"]
    return mat, nodes, mat.node_tree.links, bsdf


def glass_material(rng, colour, frosted=False, pet=False):
    mat, nodes, links, bsdf = material("glass")
    bsdf.inputs["Base Color"].default_value = (*colour, 1)
    bsdf.inputs["Transmission"].default_value = 1.0 if rng.random() > 0.08 else 0.85
    bsdf.inputs["Roughness"].default_value = rng.uniform(0.25, 0.45) if frosted else (0.0 if rng.random() < 0.85 else rng.uniform(0.0, 0.06))
    bsdf.inputs["IOR"].default_value = 1.40 if pet else rng.uniform(1.45, 1.52)
    bsdf.inputs["Specular"].default_value = 0.5
    # Shadow rays pass straight through (tinted): light reaches what is seen through the glass and glass
    # casts coloured, soft shadows. Without it (no caustics) everything behind glass is lit only
    # indirectly: noisy at low sample counts, and shadows are black.
    path = nodes.new("ShaderNodeLightPath")
    transparent = nodes.new("ShaderNodeBsdfTransparent")
    transparent.inputs["Color"].default_value = (*[0.35 + 0.65 * c for c in colour], 1)
    mix = nodes.new("ShaderNodeMixShader")
    out = nodes["Material Output"]
    links.new(path.outputs["Is Shadow Ray"], mix.inputs["Fac"])
    links.new(bsdf.outputs["BSDF"], mix.inputs[1])
    links.new(transparent.outputs["BSDF"], mix.inputs[2])
    links.new(mix.outputs["Shader"], out.inputs["Surface"])
    return mat


def plain_material(name, colour, roughness=0.5, metallic=0.0, clearcoat=0.0):
    mat, nodes, links, bsdf = material(name)
    bsdf.inputs["Base Color"].default_value = (*colour, 1)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Clearcoat"].default_value = clearcoat
    return mat


def textured_material(rng, name, kind=None, colours=None, scale=None, roughness=None, uv=False):
    """A procedural surface: wood, marble, checker, bricks, noise, stripes, magic, or plain."""
    mat, nodes, links, bsdf = material(name)
    kind = kind or rng.choice(["wood", "marble", "checker", "bricks", "noise", "stripes", "magic", "plain", "plain"])
    c1 = colours[0] if colours else (rng.random(), rng.random(), rng.random())
    c2 = colours[1] if colours else jitter(rng, tuple(c * rng.uniform(0.3, 1.2) for c in c1), 0.25)
    bsdf.inputs["Roughness"].default_value = roughness if roughness is not None else rng.uniform(0.2, 0.9)
    if kind == "plain":
        bsdf.inputs["Base Color"].default_value = (*c1, 1)
        return mat, kind
    coord = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    links.new(coord.outputs["UV" if uv else "Object"], mapping.inputs["Vector"])
    mapping.inputs["Rotation"].default_value = (rng.uniform(0, 0.3), rng.uniform(0, 0.3), rng.uniform(0, TAU))
    sc = scale if scale is not None else rng.uniform(2, 12)
    mapping.inputs["Scale"].default_value = (sc, sc * rng.uniform(0.5, 2), sc)
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*c1, 1)
    ramp.color_ramp.elements[1].color = (*c2, 1)
    if kind == "wood":
        tex = nodes.new("ShaderNodeTexWave")
        tex.wave_type = "RINGS" if rng.random() < 0.5 else "BANDS"
        tex.inputs["Distortion"].default_value = rng.uniform(2, 12)
        tex.inputs["Detail"].default_value = 4
        out = tex.outputs["Fac"]
    elif kind == "marble":
        tex = nodes.new("ShaderNodeTexNoise")
        tex.inputs["Detail"].default_value = 8
        tex.inputs["Distortion"].default_value = rng.uniform(0, 3)
        out = tex.outputs["Fac"]
        ramp.color_ramp.elements[0].position = 0.45
        ramp.color_ramp.elements[1].position = 0.55
    elif kind == "checker":
        tex = nodes.new("ShaderNodeTexChecker")
        tex.inputs["Color1"].default_value = (*c1, 1)
        tex.inputs["Color2"].default_value = (*c2, 1)
        links.new(mapping.outputs["Vector"], tex.inputs["Vector"])
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        return mat, kind
    elif kind == "bricks":
        tex = nodes.new("ShaderNodeTexBrick")
        tex.inputs["Color1"].default_value = (*c1, 1)
        tex.inputs["Color2"].default_value = (*c2, 1)
        tex.inputs["Mortar"].default_value = (*jitter(rng, (0.7, 0.7, 0.7), 0.2), 1)
        links.new(mapping.outputs["Vector"], tex.inputs["Vector"])
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        return mat, kind
    elif kind == "stripes":
        tex = nodes.new("ShaderNodeTexWave")
        tex.wave_type = "BANDS"
        tex.inputs["Distortion"].default_value = 0.0
        tex.bands_direction = rng.choice(["X", "Y", "Z"])
        out = tex.outputs["Fac"]
        ramp.color_ramp.interpolation = "CONSTANT"
    elif kind == "magic":
        tex = nodes.new("ShaderNodeTexMagic")
        tex.turbulence_depth = rng.randint(1, 4)
        out = tex.outputs["Fac"]
    else:  # noise
        tex = nodes.new("ShaderNodeTexNoise")
        tex.inputs["Detail"].default_value = rng.uniform(1, 10)
        out = tex.outputs["Fac"]
    links.new(mapping.outputs["Vector"], tex.inputs["Vector"])
    links.new(out, ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    return mat, kind


def cork_material(rng):
    mat, _ = textured_material(rng, "cork", kind="noise",
                               colours=[jitter(rng, (0.55, 0.38, 0.20), 0.06), jitter(rng, (0.30, 0.18, 0.08), 0.05)],
                               scale=rng.uniform(80, 200), roughness=0.9)
    return mat


def metal_or_plastic(rng, colour=None):
    colour = colour or jitter(rng, rng.choice(CAP_COLOURS), 0.06)
    if rng.random() < 0.55:
        return plain_material("cap", colour, roughness=rng.uniform(0.15, 0.45), metallic=1.0), colour
    return plain_material("cap", colour, roughness=rng.uniform(0.2, 0.6), clearcoat=rng.uniform(0, 1)), colour


def assign(obj, mat):
    obj.data.materials.append(mat)
    return obj


# ---------------------------------------------------------------------------------------------- bottles
def smoothstep(t: float) -> float:
    return t * t * (3 - 2 * t)


def bottle_spec(rng: random.Random, kind: str, scale: float = 1.0):
    """Dimensions in metres of one bottle of ``kind`` (randomised proportions)."""
    if kind == "longneck":
        s = dict(H=rng.uniform(0.22, 0.26), R=rng.uniform(0.029, 0.033), body=rng.uniform(0.48, 0.58),
                 shoulder=rng.uniform(0.12, 0.22), neck_r=rng.uniform(0.012, 0.0135), lip="crown")
    elif kind == "stubby":
        s = dict(H=rng.uniform(0.16, 0.19), R=rng.uniform(0.030, 0.034), body=rng.uniform(0.55, 0.65),
                 shoulder=rng.uniform(0.12, 0.18), neck_r=rng.uniform(0.0125, 0.014), lip="crown")
    elif kind == "wine":
        s = dict(H=rng.uniform(0.28, 0.32), R=rng.uniform(0.036, 0.040), body=rng.uniform(0.55, 0.66),
                 shoulder=rng.uniform(0.06, 0.2), neck_r=rng.uniform(0.0140, 0.0155), lip="wine")
    elif kind == "pet":
        s = dict(H=rng.uniform(0.20, 0.30), R=rng.uniform(0.030, 0.045), body=rng.uniform(0.55, 0.7),
                 shoulder=rng.uniform(0.10, 0.2), neck_r=rng.uniform(0.0125, 0.0135), lip="pet")
    elif kind == "jar":
        R = rng.uniform(0.035, 0.05)
        s = dict(H=rng.uniform(0.08, 0.15), R=R, body=rng.uniform(0.78, 0.88), shoulder=rng.uniform(0.04, 0.08),
                 neck_r=R * rng.uniform(0.78, 0.9), lip="jar")
    else:  # flask / spirits / juice: squarer body, medium neck
        s = dict(H=rng.uniform(0.17, 0.27), R=rng.uniform(0.028, 0.04), body=rng.uniform(0.6, 0.75),
                 shoulder=rng.uniform(0.05, 0.12), neck_r=rng.uniform(0.012, 0.016),
                 lip=rng.choice(["crown", "wine", "pet"]))
    for key in ("H", "R", "neck_r"):
        s[key] *= scale
    s["kind"] = kind
    s["wall"] = 0.0025 * scale if kind != "pet" else 0.0012 * scale
    s["lip_h"] = {"crown": 0.006, "wine": 0.008, "pet": 0.02, "jar": 0.012}[s["lip"]] * scale
    s["lip_r"] = s["neck_r"] + {"crown": 0.0025, "wine": 0.0018, "pet": 0.0012, "jar": 0.002}[s["lip"]] * scale
    s["mouth_r"] = s["neck_r"] - {"crown": 0.0035, "wine": 0.0045, "pet": 0.002, "jar": 0.003}[s["lip"]] * scale
    return s


def outer_profile(s):
    H, R, nr = s["H"], s["R"], s["neck_r"]
    zb = H * s["body"]
    zs = min(H - s["lip_h"] - 0.01, zb + H * s["shoulder"])
    pts = [(R * 0.9, 0.0), (R * 0.985, 0.003), (R, 0.008)]
    if s["kind"] == "pet" and s.get("ribs"):
        for k in range(1, 8):
            z = zb * k / 8
            pts.append((R * (0.96 if k % 2 else 1.0), z))
    pts.append((R, zb))
    for k in range(1, 9):
        t = smoothstep(k / 8)
        pts.append((R + (nr - R) * t, zb + (zs - zb) * k / 8))
    z_lip = H - s["lip_h"]
    if s["lip"] == "pet":  # neck ring (support ledge) and thread rings
        pts += [(nr, z_lip - 0.002), (nr + 0.004, z_lip - 0.0015), (nr + 0.004, z_lip), (nr, z_lip + 0.001)]
        for k in range(3):
            z = z_lip + 0.004 + k * 0.005
            pts += [(nr, z), (nr + 0.0015, z + 0.0015), (nr, z + 0.003)]
        pts.append((nr, H - 0.0015))
    elif s["lip"] == "jar":
        for k in range(2):
            z = z_lip + 0.002 + k * 0.005
            pts += [(nr, z), (nr + 0.0018, z + 0.0015), (nr, z + 0.003)]
        pts.append((nr, H - 0.001))
    elif s["lip"] == "wine":
        pts += [(nr, z_lip), (s["lip_r"], z_lip + 0.001), (s["lip_r"], H - 0.001)]
    else:  # crown finish: a thick rolled ring
        pts += [(nr, z_lip - 0.001), (s["lip_r"], z_lip + 0.0015), (s["lip_r"] + 0.0004, z_lip + s["lip_h"] * 0.5),
                (s["lip_r"], H - 0.0012)]
    return pts, zb, zs


def bottle_mesh(name, s):
    """Hollow glass bottle: outer surface up, over the lip, inner surface down."""
    outer, zb, zs = outer_profile(s)
    H, w, mr = s["H"], s["wall"], s["mouth_r"]
    top_outer = outer[-1][0]
    profile = [(0.0, 0.0)] + outer + [((top_outer + mr) / 2 + 0.0003, H), (mr, H - 0.0012)]
    # inner surface: down the neck at the mouth radius, then follow the outer body minus the wall
    inner = []
    for r, z in reversed(outer):
        if z >= H - 0.002:
            continue
        ri = min(r - w, mr) if z > zs else r - w
        if ri > 0.001 and z > w * 2:
            inner.append((ri, z))
    profile += inner + [(0.0, w * 2)]
    return revolve(name, profile, segments=40)


def liquid_mesh(s, level):
    outer, zb, zs = outer_profile(s)
    H, w = s["H"], s["wall"]
    ztop = w * 2.2 + (H * 0.9 - w * 2.2) * level
    pts = [(0.0, w * 2.2)]
    for r, z in outer:
        if w * 2.2 < z < ztop:
            pts.append((max(0.001, min(r - w, s["mouth_r"]) if z > zs else r - w) * 0.995, z))
    r_top = pts[-1][0] if len(pts) > 1 else s["R"] - w
    pts += [(r_top, ztop), (0.0, ztop)]
    return revolve("liquid", pts, segments=32)


def closure_mesh(rng, s, kind):
    """The closure on the bottle's mouth, built at the origin (z = bottle top)."""
    H, nr, lr, mr = s["H"], s["neck_r"], s["lip_r"], s["mouth_r"]
    if kind == "crown":
        r = lr + 0.0012
        h = 0.006
        prof = [(0, 0.0015), (r * 0.8, 0.0015), (r * 0.97, 0.0008), (r, -0.0005), (r * 1.02, -h * 0.7),
                (r * 1.06, -h), (r * 1.02, -h), (r * 0.97, -h * 0.6)]
        k = 21
        obj = revolve("crown", prof, segments=84,
                      mod=lambda i, t: 1 + (0.05 if i >= 4 else 0.0) * (0.5 + 0.5 * math.cos(k * t)))
        return obj, 0.0015
    if kind in ("screw", "sports", "lid"):
        if kind == "lid":
            r, h = nr + 0.003, rng.uniform(0.010, 0.016)
            z0 = -s["lip_h"] - 0.001
        else:
            r, h = nr + 0.0028, rng.uniform(0.016, 0.022)
            z0 = -max(s["lip_h"] * 0.85, 0.012)
        top = z0 + h
        prof = [(0, top), (r * 0.9, top), (r, top - 0.0015), (r, z0 + 0.004), (r * 1.02, z0 + 0.0035),
                (r * 1.02, z0), (r * 0.9, z0)]
        ridges = rng.choice([0, 48, 60, 90, 120])
        obj = revolve("cap", prof, segments=120 if ridges else 48,
                      mod=(lambda i, t: 1 + (0.025 if 1 < i < 4 else 0) * math.cos(ridges * t)) if ridges else None)
        if kind == "sports":
            sp = [(0, top + 0.016), (0.0045, top + 0.016), (0.0055, top + 0.008), (0.009, top + 0.006),
                  (r * 0.85, top), (0, top)]
            spout = revolve("spout", sp, segments=32)
            return [obj, spout], top + 0.016
        return obj, top
    if kind in ("stelvin", "foil"):
        length = rng.uniform(0.045, 0.065) if kind == "stelvin" else rng.uniform(0.05, 0.10)
        r = lr + (0.0008 if kind == "stelvin" else 0.0004)
        prof = [(0, 0.0006), (r * 0.95, 0.0006), (r, -0.001), (r, -length * 0.25)]
        # below the lip the sleeve follows the neck (a little wider than the neck)
        prof += [(nr + 0.0006, -length * 0.3), (nr + 0.0006, -length)]
        if kind == "stelvin":
            prof.insert(4, (r + 0.0004, -length * 0.26))
        prof += [(nr + 0.0002, -length), (0, -length)]
        obj = revolve(kind, prof, segments=64)
        return obj, 0.0006
    # corks: straight cork sticking out, or a T-cork (stopper with a wider top)
    out = rng.uniform(0.004, 0.02)
    if kind == "cork":
        prof = [(0, out), (mr + 0.0003, out), (mr + 0.0005, out - 0.001), (mr + 0.0005, -0.03), (0, -0.03)]
        return revolve("cork", prof, segments=40), out
    top_r = lr + rng.uniform(0.001, 0.004)
    h = rng.uniform(0.008, 0.016)
    prof = [(0, h), (top_r * 0.9, h), (top_r, h - 0.002), (top_r, 0.0015), (mr + 0.0003, 0.0005),
            (mr + 0.0003, -0.025), (0, -0.025)]
    return revolve("cork_t", prof, segments=48), h


def closure_material(rng, kind):
    if kind == "cork":
        return cork_material(rng), "cork"
    if kind == "cork_t":
        if rng.random() < 0.5:
            return cork_material(rng), "cork"
        return metal_or_plastic(rng)[0], "wood/plastic top"
    if kind == "foil":
        colour = jitter(rng, rng.choice([(0.6, 0.05, 0.08), (0.8, 0.65, 0.2), (0.03, 0.03, 0.03), (0.05, 0.3, 0.1),
                                         (0.35, 0.05, 0.3), (0.75, 0.75, 0.78), (0.1, 0.1, 0.4)]), 0.05)
        mat, nodes, links, bsdf = material("foil")
        bsdf.inputs["Base Color"].default_value = (*colour, 1)
        bsdf.inputs["Metallic"].default_value = 1.0
        bsdf.inputs["Roughness"].default_value = rng.uniform(0.2, 0.4)
        noise = nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = rng.uniform(80, 300)
        bump = nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = rng.uniform(0.1, 0.4)
        links.new(noise.outputs["Fac"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
        return mat, colour
    mat, colour = metal_or_plastic(rng)
    return mat, colour


def label_material(rng):
    base = rng.choice([(0.95, 0.93, 0.85), (0.9, 0.85, 0.7), (0.97, 0.97, 0.97), (0.7, 0.05, 0.07), (0.02, 0.02, 0.03),
                       (0.1, 0.2, 0.55), (0.85, 0.7, 0.2), (0.15, 0.45, 0.2), (rng.random(), rng.random(), rng.random())])
    accent = (rng.random(), rng.random(), rng.random())
    kind = rng.choice(["stripes", "bricks", "noise", "magic", "checker", "plain", "stripes"])
    mat, _ = textured_material(rng, "label", kind=kind, colours=[base, accent], scale=rng.uniform(2, 10),
                               roughness=rng.uniform(0.3, 0.8), uv=True)
    return mat


def build_bottle(rng, kind, state, scale=1.0, loc=(0.0, 0.0), closure=None, detail=True, max_h=None):
    """A bottle standing at ``loc`` on the table (z = 0). Returns (objects, spec, info, top height).
    ``max_h``: shrink the bottle to at most this height (distractors stay smaller than the labelled one)."""
    s = bottle_spec(rng, kind, scale)
    if max_h is not None and s["H"] > max_h:
        s = bottle_spec(random.Random(rng.random()), kind, scale * max_h / s["H"])
    if kind == "pet":
        s["ribs"] = rng.random() < 0.5
    glass_name = weighted(rng, GLASS_P)
    if kind == "pet":
        glass_name = weighted(rng, [("clear", 0.7), ("green", 0.15), ("blue", 0.15)])
    colour = jitter(rng, rng.choice(GLASS[glass_name]), 0.04)
    if kind == "pet" and glass_name != "clear":
        colour = tuple(0.5 + 0.5 * c for c in colour)
    objs = []
    body = assign(bottle_mesh("bottle", s), glass_material(rng, colour, frosted=rng.random() < 0.06, pet=kind == "pet"))
    objs.append(body)
    info = {"kind": kind, "glass": glass_name, "height_m": round(s["H"], 4)}
    if detail and rng.random() < 0.55:
        level = rng.uniform(0.2, 0.95)
        liq = assign(liquid_mesh(s, level), glass_material(rng, jitter(rng, rng.choice(LIQUIDS), 0.05)))
        liq.data.materials[0].node_tree.nodes["Principled BSDF"].inputs["IOR"].default_value = 1.33
        objs.append(liq)
        info["liquid"] = round(level, 2)
    if detail and rng.random() < 0.75 and kind != "jar":
        z0 = s["H"] * s["body"] * rng.uniform(0.15, 0.4)
        z1 = s["H"] * s["body"] * rng.uniform(0.75, 0.97)
        span = TAU if rng.random() < 0.5 else rng.uniform(1.5, 4.0)
        a0 = rng.uniform(0, TAU)
        objs.append(assign(tube("label", s["R"] * 1.004, z0, z1, a0, a0 + span), label_material(rng)))
        info["label_band"] = True
        if kind in ("longneck", "wine") and rng.random() < 0.3:
            zn = s["H"] * (s["body"] + s["shoulder"]) + 0.005
            zn1 = min(s["H"] - s["lip_h"] - 0.025, zn + 0.03)
            if zn1 > zn + 0.01:
                objs.append(assign(tube("neck_label", s["neck_r"] * 1.02, zn, zn1), label_material(rng)))
    elif kind == "jar" and detail and rng.random() < 0.6:
        objs.append(assign(tube("label", s["R"] * 1.004, s["H"] * 0.2, s["H"] * 0.7), label_material(rng)))
    top_z = s["H"]
    if state == "closed":
        closure = closure or rng.choice(CLOSURES[kind] if kind != "flask" else CLOSURES[kind])
        if s["lip"] == "pet" and closure in ("crown", "cork", "cork_t", "stelvin", "foil"):
            closure = "screw"
        if s["lip"] == "jar":
            closure = "lid"
        if closure == "crown" and s["lip"] not in ("crown",):
            closure = "screw"
        made, top = closure_mesh(rng, s, closure)
        mat, ccol = closure_material(rng, closure)
        for m in made if isinstance(made, list) else [made]:
            m.location.z = s["H"]
            assign(m, mat)
            objs.append(m)
        top_z = s["H"] + top
        info["closure"] = closure
    else:
        info["closure"] = None
        if kind == "wine" and detail and rng.random() < 0.35:
            # the cut foil band left under the lip after the capsule's top has been removed
            band = tube("foil_band", s["neck_r"] + 0.0008, s["H"] - s["lip_h"] - rng.uniform(0.02, 0.05),
                        s["H"] - s["lip_h"] - 0.003)
            mat, _ = closure_material(rng, "foil")
            objs.append(assign(band, mat))
            info["cut_foil"] = True
    for o in objs:
        o.location.x += loc[0]
        o.location.y += loc[1]
    return objs, s, info, top_z


def loose_closure(rng, near_r, kind=None):
    """A cap, lid or cork lying on the table near the bottle (a distractor for either label)."""
    kind = kind or rng.choice(["crown", "crown", "screw", "cork", "cork", "stelvin", "sports", "lid"])
    fake = bottle_spec(rng, {"crown": "longneck", "screw": "pet", "sports": "pet", "lid": "jar",
                             "cork": "wine", "stelvin": "wine"}[kind])
    made, top = closure_mesh(rng, fake, kind)
    mat, _ = closure_material(rng, kind)
    parts = made if isinstance(made, list) else [made]
    a = rng.uniform(0, TAU)
    d = near_r + rng.uniform(0.02, 0.08)
    pose = rng.choice(["up", "down", "side"]) if kind != "cork" else "side"
    for m in parts:
        assign(m, mat)
        if pose == "down":
            m.rotation_euler = (math.pi, 0, rng.uniform(0, TAU))
            m.location = (d * math.cos(a), d * math.sin(a), top)
        elif pose == "side":
            m.rotation_euler = (math.pi / 2, 0, rng.uniform(0, TAU))
            m.location = (d * math.cos(a), d * math.sin(a), fake["lip_r"] + 0.002)
        else:
            m.location = (d * math.cos(a), d * math.sin(a), 0.012 if kind != "crown" else 0.006)
    return kind


# ---------------------------------------------------------------------------------------------- world
def build_world(rng):
    world = bpy.data.worlds.new("world")
    bpy.context.scene.world = world
    world.use_nodes = True
    nodes, links = world.node_tree.nodes, world.node_tree.links
    bg = nodes["Background"]
    hue = (rng.uniform(0.3, 1), rng.uniform(0.3, 1), rng.uniform(0.3, 1))
    if rng.random() < 0.5:
        grad_coord = nodes.new("ShaderNodeTexCoord")
        sep = nodes.new("ShaderNodeSeparateXYZ")
        ramp = nodes.new("ShaderNodeValToRGB")
        links.new(grad_coord.outputs["Generated"], sep.inputs["Vector"])
        links.new(sep.outputs["Z"], ramp.inputs["Fac"])
        ramp.color_ramp.elements[0].color = (*[c * rng.uniform(0.1, 0.6) for c in hue], 1)
        ramp.color_ramp.elements[1].color = (*jitter(rng, hue, 0.3), 1)
        links.new(ramp.outputs["Color"], bg.inputs["Color"])
    else:
        bg.inputs["Color"].default_value = (*hue, 1)
    strength = rng.uniform(0.2, 1.5)
    bg.inputs["Strength"].default_value = strength
    return {"world_strength": round(strength, 2)}


def build_room(rng, look_dir):
    info = {}
    table = bpy.data.meshes.new("table")
    S = 3.0
    table.from_pydata([(-S, -S, 0), (S, -S, 0), (S, S, 0), (-S, S, 0)], [], [(0, 1, 2, 3)])
    obj = bpy.data.objects.new("table", table)
    bpy.context.scene.collection.objects.link(obj)
    mat, kind = textured_material(rng, "table")
    assign(obj, mat)
    info["table"] = kind
    if rng.random() < 0.7:  # a wall behind the bottle, facing the camera
        dist = rng.uniform(0.25, 1.5)
        wall = bpy.data.meshes.new("wall")
        wall.from_pydata([(-S, 0, 0), (S, 0, 0), (S, 0, 2 * S), (-S, 0, 2 * S)], [], [(0, 1, 2, 3)])
        wobj = bpy.data.objects.new("wall", wall)
        bpy.context.scene.collection.objects.link(wobj)
        ang = math.atan2(look_dir[1], look_dir[0]) + rng.uniform(-0.4, 0.4)
        wobj.location = (dist * math.cos(ang), dist * math.sin(ang), 0)
        wobj.rotation_euler = (0, 0, ang - math.pi / 2)
        wmat, wkind = textured_material(rng, "wall")
        assign(wobj, wmat)
        info["wall"] = wkind
    return info


def add_lights(rng):
    n = rng.choice([1, 1, 2, 2, 3])
    for k in range(n):
        kind = rng.choice(["AREA", "AREA", "POINT", "SUN"]) if k else rng.choice(["AREA", "AREA", "SUN"])
        light = bpy.data.lights.new(f"light{k}", kind)
        temp = rng.uniform(-0.25, 0.25)
        light.color = (1.0 + temp * 0.3, 1.0, 1.0 - temp * 0.5)
        if kind == "SUN":
            light.energy = rng.uniform(1.5, 5)
            light.angle = rng.uniform(0.02, 0.5)
        elif kind == "AREA":
            light.size = rng.uniform(0.1, 1.5)
            light.energy = rng.uniform(15, 150)
        else:
            light.energy = rng.uniform(10, 80)
            light.shadow_soft_size = rng.uniform(0.01, 0.2)
        obj = bpy.data.objects.new(f"light{k}", light)
        bpy.context.scene.collection.objects.link(obj)
        az, el, d = rng.uniform(0, TAU), rng.uniform(0.2, 1.4), rng.uniform(0.5, 2.0)
        obj.location = (d * math.cos(az) * math.cos(el), d * math.sin(az) * math.cos(el), d * math.sin(el))
        direction = Vector((0, 0, 0.1)) - obj.location
        obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    return n


def add_occluder(rng, cam_dir, H):
    """Something low between the camera and the bottle (never higher than half the bottle)."""
    kind = rng.choice(["box", "can", "ball", "glass"])
    h = H * rng.uniform(0.2, 0.5)
    d = rng.uniform(0.08, 0.2)
    side = rng.uniform(-0.04, 0.04)
    x = cam_dir[0] * d - cam_dir[1] * side
    y = cam_dir[1] * d + cam_dir[0] * side
    if kind == "box":
        w = rng.uniform(0.03, 0.08)
        obj = revolve("box", [(0, 0), (w, 0), (w, h), (0, h)], segments=4, smooth=False)
        obj.rotation_euler.z = rng.uniform(0, TAU)
    elif kind == "ball":
        r = min(h / 2, 0.045)
        prof = [(r * math.sin(math.pi * k / 12), r - r * math.cos(math.pi * k / 12)) for k in range(13)]
        obj = revolve("ball", prof, segments=24)
    else:
        r = rng.uniform(0.025, 0.04)
        obj = revolve(kind, [(0, 0), (r, 0), (r, h), (0, h)], segments=32)
    obj.location = (x, y, 0)
    if kind == "glass":
        assign(obj, glass_material(rng, (0.95, 0.95, 0.95)))
    else:
        assign(obj, textured_material(rng, kind)[0])
    return kind


# ---------------------------------------------------------------------------------------------- camera
def setup_camera(rng, s, top_z):
    cam_data = bpy.data.cameras.new("cam")
    cam = bpy.data.objects.new("cam", cam_data)
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    view = weighted(rng, [("side", 0.35), ("above", 0.4), ("top", 0.12), ("closeup", 0.13)])
    el = {"side": (-0.08, 0.25), "above": (0.25, 0.8), "top": (0.8, 1.45), "closeup": (-0.05, 0.9)}[view]
    el = rng.uniform(*el)
    az = rng.uniform(0, TAU)
    lens = rng.uniform(24, 105)
    cam_data.lens = lens
    cam_data.sensor_width = 36
    fov = 2 * math.atan(18 / lens)
    H, R = top_z, s["R"]
    if view == "closeup":
        extent = H * rng.uniform(0.25, 0.5)
        aim_z = H - extent * rng.uniform(0.3, 0.45)
    else:
        extent = H * math.cos(el) + 2 * R * math.sin(el) + 0.01
        aim_z = H * rng.uniform(0.45, 0.65) if el < 0.8 else H * rng.uniform(0.7, 1.0)
    fill = rng.uniform(0.55, 0.95)
    d = extent / fill / (2 * math.tan(fov / 2))
    d = max(d, R * 3 + 0.03)
    aim = Vector((rng.uniform(-0.2, 0.2) * R, rng.uniform(-0.2, 0.2) * R, aim_z))
    cam.location = aim + Vector((d * math.cos(az) * math.cos(el), d * math.sin(az) * math.cos(el), d * math.sin(el)))
    if cam.location.z < 0.01:
        cam.location.z = 0.01
    direction = aim - cam.location
    roll = Quaternion(direction.normalized(), rng.gauss(0, 0.08))  # a slightly tilted hand-held camera
    cam.rotation_euler = (roll @ direction.to_track_quat("-Z", "Y")).to_euler()
    cam_data.clip_start = 0.005
    dof = rng.random() < 0.2
    if dof:
        cam_data.dof.use_dof = True
        cam_data.dof.focus_distance = (Vector((0, 0, top_z)) - cam.location).length
        cam_data.dof.aperture_fstop = rng.uniform(1.4, 5.6)
    # horizontal direction from the bottle towards the camera
    toward = (math.cos(az), math.sin(az))
    return cam, {"view": view, "elevation_deg": round(math.degrees(el), 1), "azimuth_deg": round(math.degrees(az), 1),
                 "lens_mm": round(lens, 1), "distance_m": round(d, 3), "dof": dof}, toward


# ---------------------------------------------------------------------------------------------- picture
def render_one(args, index: int, out_path: str) -> dict:
    rng = random.Random(f"{args.seed}:{index}")
    label = LABELS[index % 2]
    clear_scene()
    scene = bpy.context.scene
    kind = weighted(rng, KIND_P)
    objs, s, info, top_z = build_bottle(rng, kind, label)
    cam, cam_info, toward = setup_camera(rng, s, top_z)
    info.update(cam_info)
    info.update(build_world(rng))
    info.update(build_room(rng, (-toward[0], -toward[1])))
    info["lights"] = add_lights(rng)
    # distractors: loose closures (either label), other bottles behind or beside, occluders
    if rng.random() < 0.3:
        info["loose"] = loose_closure(rng, s["R"])
    if rng.random() < 0.35:
        n = rng.choice([1, 1, 2, 3])
        for k in range(n):
            other_kind = weighted(rng, KIND_P)
            back = rng.uniform(0.06, 0.35)
            side = rng.choice([-1, 1]) * rng.uniform(0.0, 0.25)
            dist_ok = math.hypot(back, side) > s["R"] * 2 + 0.045
            if not dist_ok:
                side = math.copysign(s["R"] * 2 + 0.05, side or 1)
            x = -toward[0] * back - toward[1] * side
            y = -toward[1] * back + toward[0] * side
            build_bottle(rng, other_kind, rng.choice(LABELS), scale=rng.uniform(0.75, 1.0), loc=(x, y), detail=False,
                         max_h=top_z * 0.95)
        info["others"] = n
    if rng.random() < 0.15:
        info["occluder"] = add_occluder(rng, toward, s["H"])
    # the labelled bottle's top in picture coordinates (x right, y down, 0..1)
    bpy.context.view_layer.update()
    p = world_to_camera_view(scene, cam, Vector((0, 0, top_z)))
    info["top_xy"] = [round(p.x, 4), round(1 - p.y, 4)]
    scene.render.filepath = out_path
    scene.view_settings.exposure = rng.uniform(-0.6, 0.6)
    scene.view_settings.look = rng.choice(["None", "Medium Contrast", "Medium High Contrast", "Medium Low Contrast"])
    scene.render.image_settings.quality = rng.randint(70, 95)
    scene.cycles.seed = index
    # drawn last so the scene itself does not depend on it: fewer samples = cheaper, noisier pictures
    scene.cycles.samples = args.samples or rng.choice([10, 12, 16])
    info["samples"] = scene.cycles.samples
    t0 = time.time()
    bpy.ops.render.render(write_still=True)
    info["seconds"] = round(time.time() - t0, 2)
    info.update({"file": os.path.relpath(out_path, args.out), "label": label, "index": index, "seed": args.seed})
    return info


def configure_render(args) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.render.resolution_x = args.size
    scene.render.resolution_y = args.size
    scene.render.resolution_percentage = 100
    scene.cycles.use_adaptive_sampling = True
    scene.cycles.adaptive_threshold = 0.05
    denoisers = scene.cycles.bl_rna.properties["denoiser"].enum_items.keys()
    denoise = "OPENIMAGEDENOISE" in denoisers
    scene.cycles.use_denoising = denoise
    if denoise:
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.cycles.max_bounces = 10
    scene.cycles.diffuse_bounces = 2
    scene.cycles.glossy_bounces = 3
    scene.cycles.transmission_bounces = 6
    scene.cycles.transparent_max_bounces = 4
    scene.cycles.volume_bounces = 0
    scene.cycles.caustics_reflective = False
    scene.cycles.caustics_refractive = False
    scene.cycles.blur_glossy = 1.0
    scene.cycles.tile_size = 256
    # Debian's Blender has no denoiser: clamp fireflies, then despeckle and smooth (bilateral).
    scene.cycles.sample_clamp_direct = 4.0
    scene.cycles.sample_clamp_indirect = 1.0
    scene.cycles.filter_width = 1.8
    scene.use_nodes = True
    tree = scene.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    layers = tree.nodes.new("CompositorNodeRLayers")
    despeckle = tree.nodes.new("CompositorNodeDespeckle")
    smooth = tree.nodes.new("CompositorNodeBilateralblur")  # edge-preserving: smooths noise, keeps outlines
    smooth.iterations = 2
    smooth.sigma_color = 0.25
    smooth.sigma_space = 4.0
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(layers.outputs["Image"], despeckle.inputs["Image"])
    tree.links.new(despeckle.outputs["Image"], smooth.inputs["Image"])
    tree.links.new(despeckle.outputs["Image"], smooth.inputs["Determinator"])
    tree.links.new(smooth.outputs["Image"], composite.inputs["Image"])
    scene.render.threads_mode = "FIXED"
    scene.render.threads = args.threads
    scene.render.image_settings.file_format = "JPEG"
    scene.render.image_settings.color_mode = "RGB"
    scene.view_settings.view_transform = "Filmic"
    scene.render.use_persistent_data = False
    print(f"render_bottles: Blender {bpy.app.version_string}, denoiser {'OIDN' if denoise else 'none'}", flush=True)


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start", type=int, default=0, help="first picture index")
    parser.add_argument("--step", type=int, default=1, help="render every STEP-th index (split a range over processes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--samples", type=int, default=0, help="Cycles samples per pixel (0: 10-16 at random)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for label in LABELS:
        os.makedirs(os.path.join(args.out, label), exist_ok=True)
    configure_render(args)
    log_path = os.path.join(args.out, "labels.jsonl")
    done = 0
    t_start = time.time()
    for index in range(args.start, args.start + args.count, args.step):
        out_path = os.path.join(args.out, LABELS[index % 2], f"{index:05d}.jpg")
        if os.path.exists(out_path):
            continue
        info = render_one(args, index, out_path)
        with open(log_path, "a") as log:
            log.write(json.dumps(info) + "\n")
        done += 1
        if done % 10 == 0:
            print(f"render_bottles: {done} pictures, {(time.time() - t_start) / done:.2f} s each", flush=True)
    print(f"render_bottles: done, {done} pictures in {time.time() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
