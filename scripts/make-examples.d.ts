// Types for make-examples.js, so that TypeScript tests can import it.
export declare const EXAMPLES_DIR: string;
export declare function renderExamples(): Promise<Record<string, string>>;
