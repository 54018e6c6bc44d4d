#!/usr/bin/env python3
"""Fits the erfc polynomials of src/runtime/kernels/eltwise_simd.cpp (kErfcCenter, kErfcPoly).

erfc on [0.5, 4) is cut into 7 intervals of width 1/2; on each, the degree-7 Chebyshev
interpolant of erfc (200 nodes, double precision) is rewritten as a polynomial in
s = a - center and rounded to float32. Interval 7 (a >= 4) is all zeros. The script prints the
C++ tables and the worst relative error of erf = 1 - erfc over the intervals, evaluated the way
the kernel does (float32 Horner steps with fused multiply-add). Development helper: needs numpy
(Debian python3-numpy); the build never runs it.
"""
import math

import numpy as np
from numpy.polynomial import chebyshev as C

EDGES = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
DEGREE = 7


def fit(lo, hi):
    center, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    n = 200
    u = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    cheb = C.chebfit(u, [math.erfc(center + half * v) for v in u], DEGREE)
    mono = C.cheb2poly(cheb)  # in u = s / half
    return center, np.array([mono[i] / half ** i for i in range(len(mono))]).astype(np.float32)


def erf_f32(center, coef, a):
    s = (a - np.float32(center)).astype(np.float32)
    p = np.full_like(s, coef[-1])
    for q in coef[-2::-1]:  # fma: exact product and sum in double, one rounding to float
        p = (p.astype(np.float64) * s.astype(np.float64) + np.float64(q)).astype(np.float32)
    return (np.float32(1) - p).astype(np.float32)


def main():
    centers, coefs, worst = [], [], 0.0
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        center, coef = fit(lo, hi)
        a = np.linspace(lo, hi, 20001)[:-1].astype(np.float32)
        exact = np.array([math.erf(float(v)) for v in a])
        worst = max(worst, float(np.max(np.abs(erf_f32(center, coef, a) - exact) / exact)))
        centers.append(center)
        coefs.append(coef)
    centers.append(4.0)
    coefs.append(np.zeros(DEGREE + 1, np.float32))
    print("constexpr float kErfcCenter[8] = {" + ", ".join(f"{c:.2f}f" for c in centers) + "};")
    print("// kErfcPoly[j][i]: coefficient of s^j on interval i")
    print("alignas(32) constexpr float kErfcPoly[8][8] = {")
    for j in range(DEGREE + 1):
        print("    {" + ", ".join(f"{float(coefs[i][j]):.9g}f".replace("0f", "0.0f") if coefs[i][j] == 0 else
                               f"{float(coefs[i][j]):.9g}f" for i in range(8)) + "},")
    print("};")
    print(f"// worst relative error of erf on [0.5, 4): {worst:.3g}")


if __name__ == "__main__":
    main()
