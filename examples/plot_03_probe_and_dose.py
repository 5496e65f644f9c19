"""
# The probe and the dose

One truncated gold cube under three probes (Gaussian FWHM, nm; the last with Lorentzian-like
tails) and three doses (electrons per Å²). The probe blurs the edges; the dose sets the shot
noise, which falls as 1/√dose. Without a dose the image is the noise-free expectation.
"""

import matplotlib.pyplot as plt
import numpy as np

from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, Scene, axis_angle

cube = Cuboid(7.0).truncate([0, 3, 5], depth=0.3)  # nm
orientation = axis_angle((1.0, 1.0, 0.0), 25.0)
scene = Scene([Particle(cube, "Au", orientation)], support=CarbonFilm(thickness=3.0, roughness=0.5))
probes = {"0.1 nm": Probe(fwhm=0.1), "0.4 nm": Probe(fwhm=0.4),
          "0.4 nm + tails": Probe(fwhm=0.4, tail_weight=0.3, tail_width=1.0)}
doses = [1e2, 1e3, 1e4]  # e/Å²

fig, axes = plt.subplots(len(probes), len(doses) + 1, figsize=(9, 7))
for row, (name, probe) in enumerate(probes.items()):
    for column, dose in enumerate([*doses, None]):
        microscope = Microscope(pixel_size=0.15, size=64, probe=probe, dose=dose)
        rng = np.random.default_rng(0)  # the same support in every panel
        measurement = microscope.acquire(scene, rng)
        if dose is not None and row == 0:
            # relative noise over the particle: std(image - signal) / mean(signal)
            over = measurement.mask
            noise = np.std(measurement.image[over] - measurement.signal[over]) / measurement.signal[over].mean()
            print(f"dose {dose:7.0f} e/Å²: relative noise over the particle {noise:.3f}")
        ax = axes[row, column]
        ax.imshow(measurement.image, cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title("no noise" if dose is None else f"{dose:.0e} e/Å²")
        if column == 0:
            ax.set_ylabel(name)
fig.tight_layout()
plt.show()
