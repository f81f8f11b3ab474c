// A real Docusaurus config: `npm ci && npm run build` here builds the sample book's site
// (scripts/build-sample-site.sh). bookrag reads the URL facts (url, baseUrl,
// trailingSlash, the docs routeBasePath) out of this file when it ingests the source.
module.exports = {
  title: 'The Pocket Weather Station',
  url: 'https://pocket-weather.example.org',
  baseUrl: '/',
  trailingSlash: false,
  onBrokenLinks: 'warn',
  markdown: { hooks: { onBrokenMarkdownLinks: 'warn' } },
  presets: [
    [
      'classic',
      {
        docs: { routeBasePath: 'docs', sidebarPath: require.resolve('./sidebars.js') },
        blog: false,
        theme: {},
      },
    ],
  ],
  themeConfig: {
    navbar: {
      title: 'Pocket Weather Station',
      items: [{ type: 'docSidebar', sidebarId: 'bookSidebar', position: 'left', label: 'Book' }],
    },
  },
};
