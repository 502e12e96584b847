import { type Command, Option } from 'commander';
import { type OptionSpecs, type ResolvedOptions, resolveOptions } from '../config/options.js';

/** Registers the flags of an option spec on a command; help shows each variable and default. */
export function addOptions(command: Command, specs: OptionSpecs): Command {
  for (const spec of Object.values(specs)) {
    command.addOption(new Option(spec.flag, `${spec.description} [${spec.env}] (default: ${spec.defaultText})`));
  }
  return command;
}

/** Resolves a command's options: flag > FOGLINE_* variable > default. */
export function readOptions<S extends OptionSpecs>(specs: S, command: Command): ResolvedOptions<S> {
  return resolveOptions(specs, command.optsWithGlobals(), process.env);
}
