/** vfioctl's version (equal to package.json's; test/model/version.test.ts checks). */
export const VERSION = '0.1.0';
