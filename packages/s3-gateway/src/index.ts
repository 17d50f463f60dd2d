// Public entry of this package: everything other packages may use is exported from here.
export {};
