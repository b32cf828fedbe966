/** Mediated device names (pure): UUIDs as the kernel creates them (lowercase) and mdev type names. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** mdev type names: the parent driver's prefix and its type, e.g. nvidia-63, i915-GVTg_V5_4 */
export const MDEV_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
