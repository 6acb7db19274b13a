"""The generator: MuLan-conditioned semantic -> coarse -> fine token stages, then the codec."""
