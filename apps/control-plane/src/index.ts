// Public entry of the control plane.
export {};
