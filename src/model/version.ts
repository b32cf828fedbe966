/** The vfioctl release (package.json's version; kept in step by a test). */
export const VERSION = '0.1.0';
