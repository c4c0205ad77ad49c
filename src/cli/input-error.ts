/** Bad input whose text is complete for the user (the CLI prints it without the command's name). */
export class InputError extends Error {}
