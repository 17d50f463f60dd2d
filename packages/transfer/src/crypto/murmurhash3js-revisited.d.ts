// Minimal typings for the part of murmurhash3js-revisited Podkit uses (the package ships none).
declare module "murmurhash3js-revisited" {
  const murmur: {
    x64: { hash128(bytes: Uint8Array, seed?: number): string };
  };
  export default murmur;
}
