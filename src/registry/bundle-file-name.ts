/** The file name a downloaded bundle gets: `energy-forecaster-v3.fogline`. */
export function bundleFileName(model: string, version: number): string {
  return `${model}-v${version}.fogline`;
}
