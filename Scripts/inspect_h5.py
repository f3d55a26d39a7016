#!/usr/bin/env python3
"""Prints the tree of an HDF5 checkpoint or results file of this project with h5py alone, and
optionally reloads one dataset as a numpy array: no code of this project is needed.

Run: python3 Scripts/inspect_h5.py FILE.h5 [--tensor params/blocks.0.attn.wq.weight]
With --tensor it prints the dataset's shape, dtype, sum (float64) and first values as JSON on the
last line, which the Swift tests compare against the tensor they saved.
"""
import argparse
import json

import h5py
import numpy as np


def show_attrs(obj, indent):
    for key, value in sorted(obj.attrs.items()):
        if isinstance(value, bytes):
            value = value.decode()
        text = str(value)
        print(f"{indent}@{key} = {text[:100]}{'...' if len(text) > 100 else ''}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--tensor", help="dataset path to reload as a numpy array")
    args = parser.parse_args()
    with h5py.File(args.path, "r") as f:
        show_attrs(f, "")

        def visit(name, obj):
            depth = name.count("/")
            indent = "  " * (depth + 1)
            if isinstance(obj, h5py.Dataset):
                print(f"{indent}{name.split('/')[-1]}: {obj.dtype} {list(obj.shape)}")
            else:
                print(f"{indent}{name.split('/')[-1]}/")
            show_attrs(obj, indent + "  ")

        f.visititems(visit)
        if args.tensor:
            array = np.asarray(f[args.tensor][()])
            print(json.dumps({
                "tensor": args.tensor,
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "sum": float(array.astype(np.float64).sum()),
                "first": [float(x) for x in array.ravel()[:4]],
            }))


if __name__ == "__main__":
    main()
