/** vigil's version, and the ClamAV engine level it is compatible with. */
export const VERSION = '0.1.0';
export const CLAMAV_COMPAT = '1.4.6';
