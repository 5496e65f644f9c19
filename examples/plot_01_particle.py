"""
# One deformed particle

A gold cube with two opposite corners cut off, on a thin carbon film, imaged once: the exact
projected thickness, the noisy ADF image and the ground truth behind it (which pixels the
particle covers and where its eight corners project, the cut ones marked).
"""

import matplotlib.pyplot as plt
import numpy as np

from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, Scene, random_rotation

rng = np.random.default_rng(2018)  # one Generator drives every random step
cube = Cuboid(8.0).truncate([0, 7], depth=0.3)  # 8 nm edge, corners 0 and 7 cut at 0.3 × edge
print("configuration:", cube.configuration().name)

particle = Particle(cube, "Au", orientation=random_rotation(rng))
scene = Scene([particle], support=CarbonFilm(thickness=3.0, roughness=0.5))  # nm
microscope = Microscope(pixel_size=0.15, size=96, probe=Probe(fwhm=0.12), dose=5e3)  # nm, e/Å²

measurement = microscope.acquire(scene, rng)
print("image:", measurement.image.shape, measurement.image.dtype)
print(f"largest thickness: {measurement.thickness.max():.2f} nm")
volume = measurement.thickness.sum() * microscope.pixel_size**2
print(f"volume from the thickness map: {volume:.1f} nm³ (a whole cube: {8.0**3:.0f} nm³)")

# %%
# The three maps side by side. The sites are (column, row, deformed): pixel coordinates of
# every corner where the scan met it, and whether that corner was cut.

fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
axes[0].imshow(measurement.thickness, cmap="magma")
axes[0].set_title("thickness (nm)")
axes[1].imshow(measurement.image, cmap="gray")
axes[1].set_title("ADF image, 5·10³ e/Å²")
axes[2].imshow(measurement.mask, cmap="gray")
sites = measurement.sites
cut = sites[:, 2] > 0
axes[2].scatter(sites[~cut, 0], sites[~cut, 1], c="tab:blue", label="corner")
axes[2].scatter(sites[cut, 0], sites[cut, 1], c="tab:red", marker="x", label="cut corner")
axes[2].legend(loc="lower right", fontsize=8)
axes[2].set_title("ground truth")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()
plt.show()
