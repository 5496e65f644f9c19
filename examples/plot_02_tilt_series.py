"""
# A tilt series

The same particle seen at seven tilts about the microscope's y axis, from -60° to +60°, as a
tilt-series dataset (`views: {mode: tilt}`) makes its views: each view's orientation is the
tilt composed before the object's own orientation. The projected volume stays the same at
every tilt, since the thickness is exact.
"""

import matplotlib.pyplot as plt
import numpy as np

from stemsim.simulator import Microscope, Octahedron, Particle, Probe, Scene, axis_angle, random_rotation

rng = np.random.default_rng(7)
octahedron = Octahedron(9.0).dent([0], depth=0.35)  # 9 nm edge, one apex dented
orientation = random_rotation(rng)
microscope = Microscope(pixel_size=0.2, size=72, probe=Probe(fwhm=0.15), dose=2e4)  # nm, e/Å²

angles = np.linspace(-60.0, 60.0, 7)  # degrees
images, volumes = [], []
for angle in angles:
    tilted = axis_angle((0.0, 1.0, 0.0), angle) * orientation  # tilt first, in the microscope frame
    measurement = microscope.acquire(Scene([Particle(octahedron, "Pt", tilted)]), rng)
    images.append(measurement.image)
    volumes.append(measurement.thickness.sum() * microscope.pixel_size**2)  # nm³
for angle, volume in zip(angles, volumes):
    print(f"tilt {angle:+5.0f}°: projected volume {volume:6.1f} nm³")

# %%
# The views in a row, on one grey scale so that the contrast can be compared.

fig, axes = plt.subplots(1, len(angles), figsize=(12, 2.2))
top = max(image.max() for image in images)
for ax, angle, image in zip(axes, angles, images):
    ax.imshow(image, cmap="gray", vmin=0, vmax=top)
    ax.set_title(f"{angle:+.0f}°")
    ax.set_axis_off()
fig.tight_layout()
plt.show()
