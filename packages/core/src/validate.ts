import type { z } from "zod";
import { ValidationError } from "./errors/index.js";

/** Parse `input` with `schema` at a boundary; a mismatch becomes a ValidationError naming each bad field. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    what,
    result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  );
}
