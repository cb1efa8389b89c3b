"""What is measured and how: timing, CUDA, NVML, the CPU, one timing per device."""
