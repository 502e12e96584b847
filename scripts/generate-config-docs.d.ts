// Types for generate-config-docs.js, so that TypeScript tests can import it.
import type { OptionSpecs } from '../src/config/options.js';

export declare const CONFIG_START: string;
export declare const CONFIG_END: string;
export declare const README_PATH: string;
export declare const CONFIG_ROLES: ReadonlyArray<{ title: string; intro: string; specs: OptionSpecs }>;
export declare function renderTable(specs: OptionSpecs): string;
export declare function renderConfigSection(): string;
export declare function replaceConfigSection(readme: string, section: string): string;
export declare function currentConfigSection(readme: string): string;
