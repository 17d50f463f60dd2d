export * from "./catalogue.js";
export * from "./podkit-error.js";
